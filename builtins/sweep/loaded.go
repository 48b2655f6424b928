package sweep

import (
	"fmt"

	"go.starlark.net/starlark"

	"starlab/runtime"
)

// loadedServerKey marks a sweep name taken by points read from files: no server measured them, so
// a sweep() of the same name is refused (it "measured another server").
const loadedServerKey = "load_results"

// ClaimLoadedName takes a sweep name for points read from files (load_results), so that their
// sweeps/NAME.json is theirs alone. A name given explicitly must be free; a default name gets a
// -2, -3, ... suffix when taken, as unnamed sweeps do.
func ClaimLoadedName(r *runtime.Run, name string, explicit bool) (string, error) {
	reg := runtime.State(r, sweepsKey{}, func() *sweepRegistry { return &sweepRegistry{byName: map[string]*namedSweep{}} })
	if _, taken := reg.byName[name]; taken {
		if explicit {
			return "", fmt.Errorf("a sweep named %q is already in this run; give another name", name)
		}
		base := name
		for i := 2; reg.byName[name] != nil; i++ {
			name = fmt.Sprintf("%s-%d", base, i)
		}
	}
	reg.byName[name] = &namedSweep{name: name, serverKey: loadedServerKey}
	return name, nil
}

// LoadedResultValue is the SweepResult of points read from files: .name, .points (vLLM bench's
// field names, as a measured sweep's) and .server None, since no server of the run measured them.
// It carries no ResultState: how the points were measured is unknown, so calibrate refuses them.
func LoadedResultValue(name string, points []Point) *runtime.Object {
	return resultValue(name, points, starlark.None)
}
