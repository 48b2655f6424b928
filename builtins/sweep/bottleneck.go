package sweep

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// LagTolerance is the default p99 send-lag limit: 5 % of the mean gap, clamped to [2 ms, 10 ms].
// Below 2 ms timer jitter alone would flag every high-rate point; above 10 ms TTFT is visibly skewed.
func LagTolerance(rate float64) time.Duration {
	if math.IsInf(rate, 1) || rate <= 0 {
		return 10 * time.Millisecond
	}
	d := time.Duration(0.05 / rate * float64(time.Second))
	return min(max(d, 2*time.Millisecond), 10*time.Millisecond)
}

// judgeClient sets client.bottleneck when the load generator, not the server, limited the point.
func judgeClient(p *Point, tol time.Duration) {
	c := &p.Client
	var why []string
	if lag := float64(c.SendLagP99Ms); lag > ms(tol) {
		why = append(why, fmt.Sprintf("send lag p99 %.2f ms > %.2f ms", lag, ms(tol)))
	}
	if c.Dropped > 0 {
		why = append(why, fmt.Sprintf("%d sends dropped at max_concurrency", c.Dropped))
	}
	if a, s := float64(c.AchievedSendRate), float64(c.ScheduledSendRate); a < 0.99*s {
		why = append(why, fmt.Sprintf("achieved send rate %.2f/s < 99%% of scheduled %.2f/s", a, s))
	}
	c.Bottleneck = len(why) > 0
	c.BottleneckReason = strings.Join(why, "; ")
}
