package jsonnum

import (
	"encoding/json"
	"math"
	"testing"
)

func TestFloatRoundTripsWhatJSONCannotHold(t *testing.T) {
	tests := []struct {
		v    float64
		json string
	}{
		{1.5, "1.5"},
		{0.1, "0.1"},
		{13.68, "13.68"},
		{math.Inf(1), `"inf"`},
		{math.Inf(-1), `"-inf"`},
		{math.NaN(), "null"},
	}
	for _, tt := range tests {
		data, err := json.Marshal(Float(tt.v))
		if err != nil || string(data) != tt.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tt.v, data, err, tt.json)
		}
		var back Float
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", data, err)
		}
		if got := float64(back); got != tt.v && !(math.IsNaN(got) && math.IsNaN(tt.v)) {
			t.Errorf("round trip of %v gave %v", tt.v, got)
		}
	}
	var f Float
	if err := json.Unmarshal([]byte(`"fast"`), &f); err == nil {
		t.Error(`"fast" decoded as a number`)
	}
}
