package gpu

import (
	"strings"
	"testing"
)

func TestNewPoint(t *testing.T) {
	full := func(i int, j, w float64) Summary {
		return Summary{Device: Device{Index: i}, EnergyJ: ptr(j), MeanPowerW: ptr(w), Samples: 10}
	}
	tests := []struct {
		name     string
		sums     []Summary
		tokens   int64
		energy   *float64
		power    *float64
		perToken *float64
		note     string
	}{
		{name: "two devices", sums: []Summary{full(0, 600, 300), full(1, 400, 200)}, tokens: 2000,
			energy: ptr(1000.0), power: ptr(500.0), perToken: ptr(0.5)},
		{name: "no tokens", sums: []Summary{full(0, 600, 300)}, tokens: 0, energy: ptr(600.0), power: ptr(300.0)},
		{name: "device without energy", sums: []Summary{full(0, 600, 300), {Device: Device{Index: 1}}}, tokens: 10,
			note: "GPU 1 has no energy"},
		{name: "lost device", sums: []Summary{full(0, 600, 300), func() Summary { s := full(1, 5, 5); s.Lost = true; return s }()}, tokens: 10,
			note: "GPU 1 was lost"},
		{name: "no devices", tokens: 10, note: "no GPUs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPoint(at(0), at(1000), tc.sums, tc.tokens)
			check := func(what string, got, want *float64) {
				if (got == nil) != (want == nil) || (want != nil && !near(got, *want)) {
					t.Errorf("%s = %v, want %v", what, deref(got), deref(want))
				}
			}
			check("energy", p.EnergyJ, tc.energy)
			check("power", p.MeanPowerW, tc.power)
			check("J/token", p.JoulesPerOutputToken, tc.perToken)
			if !strings.HasPrefix(p.EnergyNote, tc.note) || (tc.note == "") != (p.EnergyNote == "") {
				t.Errorf("note = %q, want prefix %q", p.EnergyNote, tc.note)
			}
			if p.OutputTokens != tc.tokens || len(p.Devices) != len(tc.sums) || !p.Start.Equal(at(0)) || !p.End.Equal(at(1000)) {
				t.Errorf("point = %+v", p)
			}
		})
	}
}

func TestJoulesPerToken(t *testing.T) {
	tests := []struct {
		energy *float64
		tokens int64
		want   *float64
	}{
		{ptr(120.0), 400, ptr(0.3)},
		{nil, 400, nil},
		{ptr(120.0), 0, nil},
		{ptr(120.0), -1, nil},
	}
	for _, tc := range tests {
		got := JoulesPerToken(tc.energy, tc.tokens)
		if (got == nil) != (tc.want == nil) || (tc.want != nil && !near(got, *tc.want)) {
			t.Errorf("JoulesPerToken(%v, %d) = %v, want %v", deref(tc.energy), tc.tokens, deref(got), deref(tc.want))
		}
	}
}
