// Command karmada-peer is fleetplan's benchmark peer for Karmada: it runs Karmada's own replica
// division code, compiled from github.com/karmada-io/karmada (see go.mod for the version), on
// the fleet an instance folder describes, and prints one JSON result object.
//
//	karmada-peer --instance <folder> --repeat <n> [--time-limit <seconds>] [--placements <file>]
//
// It reads <folder>/karmada.json and follows the input and output formats of
// benches/INSTANCES.md ("karmada.json" and "What every runner prints").
//
// Karmada schedules at cluster level. For every workload (one ResourceBinding) this program does
// what Karmada's generic scheduler does after its filter step (the candidate list in
// karmada.json is that step's result): it copies the binding, runs Karmada's in-tree score
// plugins over the candidates, groups them with core.SelectClusters (which asks the replica
// estimators, here only Karmada's general estimator working on each cluster's
// Status.ResourceSummary, how many replicas each cluster can take) and divides the replicas with
// core.AssignReplicas, with the workload's running replicas (karmada.json's "running") as the
// binding's spec.Clusters. The cluster summaries are those of the input for every workload, as in a
// Karmada scheduler between two refreshes of cluster status. Only that work, for all workloads,
// is timed.
//
// Besides the division, it reports
//   - over_capacity: replicas Karmada assigned beyond what the clusters' summaries can hold once
//     the workloads, taken in input order, share them (Karmada's general estimator applied to
//     summaries that grow by every workload's placement);
//   - moves_after_failure: the replicas taken from healthy clusters when fail_cluster fails and
//     every binding that had replicas there is rescheduled the way Karmada reschedules an
//     evicted binding: fail_cluster is no longer a candidate, spec.Clusters holds the previous
//     result minus fail_cluster, and the scheduler's Steady mode adds the missing replicas.
//
// A workload Karmada refuses (an error from the scheduler, such as too few available replicas
// for a dynamic division) counts as wholly unplaced, as in Karmada.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	clusterv1alpha1 "github.com/karmada-io/karmada/pkg/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/karmada-io/karmada/pkg/apis/policy/v1alpha1"
	workv1alpha2 "github.com/karmada-io/karmada/pkg/apis/work/v1alpha2"
	estimatorclient "github.com/karmada-io/karmada/pkg/estimator/client"
	"github.com/karmada-io/karmada/pkg/scheduler/core"
	"github.com/karmada-io/karmada/pkg/scheduler/framework"
	"github.com/karmada-io/karmada/pkg/scheduler/framework/plugins"
	frameworkruntime "github.com/karmada-io/karmada/pkg/scheduler/framework/runtime"
)

// karmadaVersion is the Karmada module this program is built against (keep in sync with go.mod).
const karmadaVersion = "v1.16.0"

// runnerName is the `runner` field of the result.
const runnerName = "karmada"

// ---- input: karmada.json ----

type inputCluster struct {
	Name        string            `json:"name"`
	Region      string            `json:"region"`
	Ready       *bool             `json:"ready"`
	Allocatable map[string]string `json:"allocatable"`
	Allocated   map[string]string `json:"allocated"`
}

type inputWorkload struct {
	Name       string            `json:"name"`
	Replicas   int64             `json:"replicas"`
	Requests   map[string]string `json:"requests"`
	Candidates []string          `json:"candidates"`
	Division   string            `json:"division"`
	Weights    map[string]int64  `json:"weights"`
	Running    map[string]int32  `json:"running"`
}

type input struct {
	Clusters    []inputCluster  `json:"clusters"`
	Workloads   []inputWorkload `json:"workloads"`
	FailCluster string          `json:"fail_cluster"`
}

// ---- output ----

// result is the object every runner prints (benches/INSTANCES.md), plus over_capacity.
type result struct {
	Runner            string    `json:"runner"`
	Status            string    `json:"status"`
	Detail            string    `json:"detail"`
	TimesMs           []float64 `json:"times_ms"`
	PeakRSSKiB        *int64    `json:"peak_rss_kib"`
	Objective         *float64  `json:"objective"`
	Placed            *int64    `json:"placed"`
	Unplaced          *int64    `json:"unplaced"`
	MovesAfterFailure *int64    `json:"moves_after_failure"`
	OverCapacity      *int64    `json:"over_capacity"`
}

// placementsFile is what --placements writes: Karmada's first division of every workload and,
// under after_failure, the division after fail_cluster failed.
type placementsFile struct {
	Workloads    []workloadPlacement `json:"workloads"`
	AfterFailure []workloadPlacement `json:"after_failure"`
}

type workloadPlacement struct {
	Name     string           `json:"name"`
	Clusters map[string]int32 `json:"clusters"`
	Error    string           `json:"error,omitempty"`
}

// ---- the fleet as Karmada objects ----

// binding is one workload as a ResourceBinding: its spec, and its candidate clusters (the
// filter step's result) as Karmada Cluster objects.
type binding struct {
	name       string
	target     int64
	spec       *workv1alpha2.ResourceBindingSpec
	candidates []*clusterv1alpha1.Cluster
	// running is where the workload already runs: the binding's spec.Clusters when it is
	// scheduled, as Karmada holds a binding's last result (nil for a new workload).
	running []workv1alpha2.TargetCluster
}

// fleet is the parsed instance.
type fleet struct {
	clusters    []*clusterv1alpha1.Cluster
	byName      map[string]*clusterv1alpha1.Cluster
	bindings    []binding
	failCluster string
}

func parseResources(what string, in map[string]string) (corev1.ResourceList, error) {
	out := make(corev1.ResourceList, len(in))
	for k, v := range in {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s=%q: %v", what, k, v, err)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}

// newCluster builds the Cluster Karmada's cluster status controller would report: a region, a
// Ready condition and the resource summary (nothing allocating).
func newCluster(c inputCluster) (*clusterv1alpha1.Cluster, error) {
	allocatable, err := parseResources("cluster "+c.Name+" allocatable", c.Allocatable)
	if err != nil {
		return nil, err
	}
	allocated, err := parseResources("cluster "+c.Name+" allocated", c.Allocated)
	if err != nil {
		return nil, err
	}
	ready := metav1.ConditionTrue
	if c.Ready != nil && !*c.Ready {
		ready = metav1.ConditionFalse
	}
	return &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: c.Name},
		Spec:       clusterv1alpha1.ClusterSpec{Region: c.Region},
		Status: clusterv1alpha1.ClusterStatus{
			Conditions: []metav1.Condition{{Type: clusterv1alpha1.ClusterConditionReady, Status: ready}},
			ResourceSummary: &clusterv1alpha1.ResourceSummary{
				Allocatable: allocatable,
				Allocated:   allocated,
				Allocating:  corev1.ResourceList{},
			},
		},
	}, nil
}

// newBindingSpec builds the ResourceBindingSpec a PropagationPolicy with the workload's
// division would give a Deployment.
func newBindingSpec(w inputWorkload) (*workv1alpha2.ResourceBindingSpec, error) {
	if w.Replicas < 0 || w.Replicas > math.MaxInt32 {
		return nil, fmt.Errorf("workload %s: replicas %d out of range", w.Name, w.Replicas)
	}
	requests, err := parseResources("workload "+w.Name+" requests", w.Requests)
	if err != nil {
		return nil, err
	}
	strategy := &policyv1alpha1.ReplicaSchedulingStrategy{
		ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDivided,
	}
	switch w.Division {
	case "static":
		strategy.ReplicaDivisionPreference = policyv1alpha1.ReplicaDivisionPreferenceWeighted
		strategy.WeightPreference = &policyv1alpha1.ClusterPreferences{StaticWeightList: staticWeights(w.Weights)}
		if len(strategy.WeightPreference.StaticWeightList) == 0 {
			// Karmada's default for Weighted without weights: every candidate weighs 1.
			strategy.WeightPreference = nil
		}
	case "dynamic":
		strategy.ReplicaDivisionPreference = policyv1alpha1.ReplicaDivisionPreferenceWeighted
		strategy.WeightPreference = &policyv1alpha1.ClusterPreferences{
			DynamicWeight: policyv1alpha1.DynamicWeightByAvailableReplicas,
		}
	case "aggregated":
		strategy.ReplicaDivisionPreference = policyv1alpha1.ReplicaDivisionPreferenceAggregated
	default:
		return nil, fmt.Errorf("workload %s: unknown division %q", w.Name, w.Division)
	}
	namespace, name := "default", w.Name
	if i := strings.IndexByte(w.Name, '/'); i >= 0 {
		namespace, name = w.Name[:i], w.Name[i+1:]
	}
	return &workv1alpha2.ResourceBindingSpec{
		Resource: workv1alpha2.ObjectReference{
			APIVersion: "apps/v1",
			Kind:       "Deployment",
			Namespace:  namespace,
			Name:       name,
			// Karmada breaks ties in its Webster division by a hash of the UID; the name
			// stands in for it so that runs are reproducible.
			UID: types.UID(w.Name),
		},
		Replicas:            int32(w.Replicas),
		ReplicaRequirements: &workv1alpha2.ReplicaRequirements{ResourceRequest: requests, Namespace: namespace},
		Placement: &policyv1alpha1.Placement{
			ClusterAffinity:   &policyv1alpha1.ClusterAffinity{ClusterNames: append([]string(nil), w.Candidates...)},
			ReplicaScheduling: strategy,
		},
	}, nil
}

// staticWeights turns the weights map into Karmada's static weight list, one rule per cluster
// name, in name order. Karmada's API requires weights of at least 1; others are left out.
func staticWeights(weights map[string]int64) []policyv1alpha1.StaticClusterWeight {
	names := make([]string, 0, len(weights))
	for name, w := range weights {
		if w >= 1 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	list := make([]policyv1alpha1.StaticClusterWeight, 0, len(names))
	for _, name := range names {
		list = append(list, policyv1alpha1.StaticClusterWeight{
			TargetCluster: policyv1alpha1.ClusterAffinity{ClusterNames: []string{name}},
			Weight:        weights[name],
		})
	}
	return list
}

func buildFleet(in *input) (*fleet, error) {
	f := &fleet{byName: make(map[string]*clusterv1alpha1.Cluster, len(in.Clusters)), failCluster: in.FailCluster}
	for _, c := range in.Clusters {
		cluster, err := newCluster(c)
		if err != nil {
			return nil, err
		}
		if _, dup := f.byName[c.Name]; dup {
			return nil, fmt.Errorf("cluster %s listed twice", c.Name)
		}
		f.clusters = append(f.clusters, cluster)
		f.byName[c.Name] = cluster
	}
	if f.failCluster != "" && f.byName[f.failCluster] == nil {
		return nil, fmt.Errorf("fail_cluster %q is not a cluster", f.failCluster)
	}
	for _, w := range in.Workloads {
		spec, err := newBindingSpec(w)
		if err != nil {
			return nil, err
		}
		b := binding{name: w.Name, target: w.Replicas, spec: spec}
		names := make([]string, 0, len(w.Running))
		for name := range w.Running {
			if f.byName[name] == nil {
				return nil, fmt.Errorf("workload %s: running in %q, which is not a cluster", w.Name, name)
			}
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			b.running = append(b.running, workv1alpha2.TargetCluster{Name: name, Replicas: w.Running[name]})
		}
		for _, name := range w.Candidates {
			cluster := f.byName[name]
			if cluster == nil {
				return nil, fmt.Errorf("workload %s: candidate %q is not a cluster", w.Name, name)
			}
			b.candidates = append(b.candidates, cluster)
		}
		f.bindings = append(f.bindings, b)
	}
	return f, nil
}

// ---- Karmada's scheduling, after the filter step ----

// scheduler runs the steps of Karmada's generic scheduler (pkg/scheduler/core) that follow the
// filter plugins.
type scheduler struct {
	framework framework.Framework
}

func newScheduler() (*scheduler, error) {
	fwk, err := frameworkruntime.NewFramework(plugins.NewInTreeRegistry())
	if err != nil {
		return nil, err
	}
	return &scheduler{framework: fwk}, nil
}

// schedule divides the binding's replicas over the feasible clusters as genericScheduler.Schedule
// does once its filter step is done: score, select, assign. prev, if not nil, is the binding's
// current spec.Clusters.
func (s *scheduler) schedule(b *binding, feasible []*clusterv1alpha1.Cluster, prev []workv1alpha2.TargetCluster) ([]workv1alpha2.TargetCluster, error) {
	if len(feasible) == 0 {
		return nil, errors.New("no feasible cluster")
	}
	// The scheduler works on a copy of the binding (Scheduler.doScheduleBinding).
	spec := b.spec.DeepCopy()
	spec.Clusters = prev
	status := &workv1alpha2.ResourceBindingStatus{}

	// genericScheduler.prioritizeClusters: the sum of the score plugins' scores.
	scoresMap, res := s.framework.RunScorePlugins(context.TODO(), spec, feasible)
	if res != nil {
		return nil, fmt.Errorf("failed to prioritize clusters: %w", res.AsError())
	}
	scores := make(framework.ClusterScoreList, len(feasible))
	for i := range feasible {
		scores[i] = framework.ClusterScore{Cluster: feasible[i]}
		for plugin := range scoresMap {
			scores[i].Score += scoresMap[plugin][i].Score
		}
	}

	selected, err := core.SelectClusters(scores, spec.Placement, spec)
	if err != nil {
		return nil, fmt.Errorf("failed to select clusters: %w", err)
	}
	assigned, err := core.AssignReplicas(selected, spec, status)
	if err != nil {
		return nil, fmt.Errorf("failed to assign replicas: %w", err)
	}
	return assigned, nil
}

// division is the outcome of one binding's scheduling.
type division struct {
	clusters []workv1alpha2.TargetCluster
	err      error
}

func sum(tcs []workv1alpha2.TargetCluster) int64 {
	var n int64
	for _, tc := range tcs {
		n += int64(tc.Replicas)
	}
	return n
}

// ---- capacity check: Karmada's general estimator on summaries shared by all workloads ----

// overCapacity counts the new replicas of `divisions` (those beyond the binding's running ones,
// which the summaries already hold) that the clusters' resource summaries cannot hold once the
// workloads, in input order, take their share: each cluster's room for a
// workload is Karmada's general estimator's answer (min over pods and requested resources of
// (allocatable - allocated) / request), and what fits is then added to the cluster's allocated
// resources.
func overCapacity(f *fleet, divisions []division) int64 {
	estimator := estimatorclient.NewGeneralEstimator()
	working := make(map[string]*clusterv1alpha1.Cluster, len(f.clusters))
	for _, c := range f.clusters {
		working[c.Name] = c.DeepCopy()
	}
	var over int64
	for i := range f.bindings {
		b := &f.bindings[i]
		running := make(map[string]int32, len(b.running))
		for _, tc := range b.running {
			running[tc.Name] = tc.Replicas
		}
		for _, tc := range divisions[i].clusters {
			// Running replicas are in the summary already: only new ones need room.
			added := tc.Replicas - running[tc.Name]
			if added <= 0 {
				continue
			}
			cluster := working[tc.Name]
			room, _ := estimator.MaxAvailableReplicas(context.TODO(), []*clusterv1alpha1.Cluster{cluster}, b.spec.ReplicaRequirements)
			fits := int64(added)
			if free := int64(room[0].Replicas); free < fits {
				fits = max(free, 0)
			}
			over += int64(added) - fits
			if fits > 0 {
				allocate(cluster.Status.ResourceSummary, b.spec.ReplicaRequirements.ResourceRequest, fits)
			}
		}
	}
	return over
}

// allocate adds n replicas of `request` (and n pods) to the summary's allocated resources.
func allocate(summary *clusterv1alpha1.ResourceSummary, request corev1.ResourceList, n int64) {
	if summary.Allocated == nil {
		summary.Allocated = corev1.ResourceList{}
	}
	add := func(name corev1.ResourceName, q resource.Quantity) {
		q.Mul(n)
		total := summary.Allocated[name]
		total.Add(q)
		summary.Allocated[name] = total
	}
	for name, q := range request {
		if name != corev1.ResourcePods {
			add(name, q)
		}
	}
	add(corev1.ResourcePods, *resource.NewQuantity(1, resource.DecimalSI))
}

// ---- the failover measurement ----

// failover fails f.failCluster and reschedules every binding that had replicas there, as Karmada
// does after evicting a cluster from a binding: the cluster is no longer feasible and
// spec.Clusters keeps the rest of the previous result, so the scheduler's Steady mode only adds
// the replicas that were lost (dynamic and aggregated) or re-divides by weight (static). It
// returns the replicas taken from healthy clusters, the new divisions, and how many
// reschedulings Karmada refused (those bindings keep what they had on healthy clusters).
func failover(s *scheduler, f *fleet, first []division) (moves int64, after []division, refused int) {
	after = make([]division, len(first))
	for i := range f.bindings {
		b := &f.bindings[i]
		hit := false
		var kept []workv1alpha2.TargetCluster
		for _, tc := range first[i].clusters {
			if tc.Name == f.failCluster {
				hit = hit || tc.Replicas > 0
				continue
			}
			kept = append(kept, tc)
		}
		if !hit {
			after[i] = first[i]
			continue
		}
		feasible := make([]*clusterv1alpha1.Cluster, 0, len(b.candidates))
		for _, c := range b.candidates {
			if c.Name != f.failCluster {
				feasible = append(feasible, c)
			}
		}
		clusters, err := s.schedule(b, feasible, kept)
		if err != nil {
			refused++
			after[i] = division{clusters: kept, err: err}
			continue
		}
		after[i] = division{clusters: clusters}
		now := make(map[string]int32, len(clusters))
		for _, tc := range clusters {
			now[tc.Name] += tc.Replicas
		}
		for _, tc := range kept {
			if d := tc.Replicas - now[tc.Name]; d > 0 {
				moves += int64(d)
			}
		}
	}
	return moves, after, refused
}

// ---- the run ----

type options struct {
	instance   string
	repeat     int
	timeLimit  time.Duration
	placements string
}

func resetPeak() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0o644) == nil
}

func peakKiB() *int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				return nil
			}
			v, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return nil
			}
			return &v
		}
	}
	return nil
}

func failed(detail string) result {
	return result{Runner: runnerName, Status: "failed", Detail: detail, TimesMs: []float64{}}
}

func run(opts options) result {
	data, err := os.ReadFile(opts.instance + "/karmada.json")
	if err != nil {
		return failed(err.Error())
	}
	var in input
	if err := json.Unmarshal(data, &in); err != nil {
		return failed("karmada.json: " + err.Error())
	}
	f, err := buildFleet(&in)
	if err != nil {
		return failed("karmada.json: " + err.Error())
	}
	s, err := newScheduler()
	if err != nil {
		return failed("karmada scheduler framework: " + err.Error())
	}
	// No scheduler-estimator is registered: the general estimator is the only one the
	// scheduler asks (karmada-scheduler registers the gRPC one only with
	// --enable-scheduler-estimator).
	var estimators []string
	for name := range estimatorclient.GetReplicaEstimators() {
		estimators = append(estimators, name)
	}
	sort.Strings(estimators)

	peakReset := resetPeak()
	var deadline time.Time
	if opts.timeLimit > 0 {
		deadline = time.Now().Add(opts.timeLimit)
	}
	times := make([]float64, 0, opts.repeat)
	var first []division
	stopped := false
	for rep := 0; rep < opts.repeat && !stopped; rep++ {
		divisions := make([]division, len(f.bindings))
		started := time.Now()
		for i := range f.bindings {
			if !deadline.IsZero() && time.Now().After(deadline) {
				stopped = true
				break
			}
			b := &f.bindings[i]
			clusters, err := s.schedule(b, b.candidates, b.running)
			divisions[i] = division{clusters: clusters, err: err}
		}
		elapsed := time.Since(started)
		if stopped {
			if first == nil {
				first = divisions // the partial first division: unscheduled bindings are unplaced
			}
			break
		}
		times = append(times, float64(elapsed.Nanoseconds())/1e6)
		if first == nil {
			first = divisions
		}
	}
	var peak *int64
	if peakReset {
		peak = peakKiB()
	}

	var placed, target int64
	refused := 0
	for i := range f.bindings {
		target += f.bindings[i].target
		if first[i].err != nil {
			refused++
		}
		placed += sum(first[i].clusters)
	}
	unplaced := target - placed
	over := overCapacity(f, first)

	res := result{
		Runner:       runnerName,
		Status:       "ok",
		TimesMs:      times,
		PeakRSSKiB:   peak,
		Placed:       &placed,
		Unplaced:     &unplaced,
		OverCapacity: &over,
	}
	detail := fmt.Sprintf("karmada %s core.SelectClusters + core.AssignReplicas after the in-tree score plugins, estimators: %s; "+
		"timed: copying each binding and scheduling it on its candidates; %d of %d workloads refused by Karmada (counted unplaced)",
		karmadaVersion, strings.Join(estimators, ","), refused, len(f.bindings))
	var after []division
	if stopped {
		res.Status = "time-limit"
		detail += fmt.Sprintf("; stopped at the time limit (%gs) after %d full repetitions", opts.timeLimit.Seconds(), len(times))
	}
	if !stopped || len(times) > 0 {
		if f.failCluster != "" {
			var moves int64
			var failRefused int
			moves, after, failRefused = failover(s, f, first)
			res.MovesAfterFailure = &moves
			detail += fmt.Sprintf("; after %s failed, %d reschedulings refused (kept their healthy replicas)", f.failCluster, failRefused)
		}
	}
	res.Detail = detail

	if opts.placements != "" {
		if err := writePlacements(opts.placements, f, first, after); err != nil {
			res = failed("--placements: " + err.Error())
		}
	}
	return res
}

func toPlacements(f *fleet, divisions []division) []workloadPlacement {
	out := make([]workloadPlacement, len(f.bindings))
	for i := range f.bindings {
		p := workloadPlacement{Name: f.bindings[i].name, Clusters: map[string]int32{}}
		for _, tc := range divisions[i].clusters {
			if tc.Replicas > 0 {
				p.Clusters[tc.Name] += tc.Replicas
			}
		}
		if divisions[i].err != nil {
			p.Error = divisions[i].err.Error()
		}
		out[i] = p
	}
	return out
}

func writePlacements(path string, f *fleet, first, after []division) error {
	doc := placementsFile{Workloads: toPlacements(f, first)}
	if after != nil {
		doc.AfterFailure = toPlacements(f, after)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func parseArgs(args []string) (options, error) {
	fs := flag.NewFlagSet("karmada-peer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	instance := fs.String("instance", "", "instance folder holding karmada.json")
	repeat := fs.Int("repeat", 3, "repetitions of the timed division")
	timeLimit := fs.Float64("time-limit", 0, "time limit in seconds (0: none)")
	placementsPath := fs.String("placements", "", "file to write the divisions to")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if *instance == "" {
		return options{}, errors.New("--instance is required")
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return options{
		instance:   *instance,
		repeat:     max(*repeat, 1),
		timeLimit:  time.Duration(*timeLimit * float64(time.Second)),
		placements: *placementsPath,
	}, nil
}

func main() {
	var res result
	defer func() {
		if r := recover(); r != nil {
			res = failed(fmt.Sprintf("panic: %v", r))
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res); err != nil {
			fmt.Println(`{"runner":"karmada","status":"failed","detail":"cannot encode the result","times_ms":[]}`)
		}
	}()
	if opts, err := parseArgs(os.Args[1:]); err != nil {
		res = failed("usage: karmada-peer --instance <folder> --repeat <n> [--time-limit <seconds>] [--placements <file>]: " + err.Error())
	} else {
		res = run(opts)
	}
}
