package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestSmallInstance runs the peer on testdata/small, whose expected divisions follow from
// Karmada's documented behaviour and the cluster summaries (free CPU: c-000 8 cores, c-001 4,
// c-003 3 with 2 free pods and 2 GPUs; c-002 not ready).
func TestSmallInstance(t *testing.T) {
	out := filepath.Join(t.TempDir(), "placements.json")
	res := run(options{instance: "testdata/small", repeat: 2, placements: out})
	if res.Status != "ok" {
		t.Fatalf("status %q: %s", res.Status, res.Detail)
	}
	if len(res.TimesMs) != 2 {
		t.Errorf("times_ms %v, want 2 repetitions", res.TimesMs)
	}
	// 34 replicas placed; team-c/too-big (100 replicas, 14 available) is refused whole.
	check := func(name string, got *int64, want int64) {
		t.Helper()
		if got == nil || *got != want {
			t.Errorf("%s = %v, want %d", name, got, want)
		}
	}
	check("placed", res.Placed, 34)
	check("unplaced", res.Unplaced, 100)
	// c-000 takes 0.5 + 0.6 + 4 cores before the aggregated workload, which then fits 2 of its 5
	// replicas; c-003 has room for 2 of the GPU job's 4.
	check("over_capacity", res.OverCapacity, 5)
	// Karmada's Steady rescheduling only adds replicas to the healthy clusters.
	check("moves_after_failure", res.MovesAfterFailure, 0)

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc placementsFile
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int32{
		"team-a/static-even": {"c-000": 5, "c-001": 5}, // static weights 1:1
		"team-a/static-2to1": {"c-000": 6, "c-001": 3}, // static weights 2:1
		"team-b/dynamic":     {"c-000": 4, "c-001": 2}, // available replicas 8:4
		"team-b/aggregated":  {"c-000": 5},             // the fewest clusters: c-000 holds all 5
		"team-c/too-big":     {},                       // refused
		"team-c/gpu-job":     {"c-003": 4},             // static weights ignore capacity
	}
	wantAfter := map[string]map[string]int32{
		"team-a/static-even": {"c-001": 10},
		"team-a/static-2to1": {"c-001": 9},
		"team-b/dynamic":     {"c-001": 6},
		"team-b/aggregated":  {"c-001": 3, "c-003": 2},
	}
	for _, p := range doc.Workloads {
		if w, ok := want[p.Name]; !ok || !reflect.DeepEqual(p.Clusters, w) {
			t.Errorf("%s: got %v, want %v", p.Name, p.Clusters, w)
		}
	}
	for _, p := range doc.AfterFailure {
		if w, ok := wantAfter[p.Name]; ok && !reflect.DeepEqual(p.Clusters, w) {
			t.Errorf("after failure, %s: got %v, want %v", p.Name, p.Clusters, w)
		}
	}
}

// TestFailedRunsReport checks that a missing instance is reported, not fatal.
func TestFailedRunsReport(t *testing.T) {
	res := run(options{instance: filepath.Join(t.TempDir(), "missing"), repeat: 1})
	if res.Status != "failed" || res.TimesMs == nil {
		t.Errorf("got %+v, want a failed result with empty times_ms", res)
	}
}
