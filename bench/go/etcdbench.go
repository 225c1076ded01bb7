// Command etcdbench is the benchmark's Go peer: etcd's official Go clients (go.etcd.io/etcd/client
// for v2, go.etcd.io/etcd/clientv3 for v3, both from etcd 3.4.23 as Debian's
// golang-etcd-server-dev ships them) running the same cells as the Node children in
// bench/lib/worker.ts, with the same phase rules, and printing one JSON line per cell in the
// shape of bench/lib/phase.ts's PhaseResult. bench/lib/go.ts builds it in GOPATH mode, offline.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	v2 "go.etcd.io/etcd/client"
	"go.etcd.io/etcd/clientv3"
	"google.golang.org/grpc/status"
)

// value is the benchmark's 100-byte value (bench/lib/workloads.ts VALUE).
var value = strings.Repeat("v", 100)

type limits struct {
	Ops int     `json:"ops"`
	Ms  float64 `json:"ms"`
}

type cellSpec struct {
	Workload    string `json:"workload"`
	Concurrency int    `json:"concurrency"`
}

// spec is the part of bench/lib/worker.ts's WorkerSpec this program reads.
type spec struct {
	Endpoints  []string   `json:"endpoints"`
	Pin        string     `json:"pin"`
	Prefix     string     `json:"prefix"`
	ServerPids []int      `json:"serverPids"`
	Cells      []cellSpec `json:"cells"`
	Warm       limits     `json:"warm"`
	Limits     limits     `json:"limits"`
}

type op func(ctx context.Context, i int) error

// clients holds the Go clients, made once per process as an application would.
type clients struct {
	keys v2.KeysAPI
	v3   *clientv3.Client
}

func newClients(s spec, needV3 bool) (*clients, error) {
	// A Transport that keeps one idle connection per request in flight: the default keeps 2, so
	// at 64 in flight Go would dial for most requests, which no one running it at load does.
	maxC := 1
	for _, c := range s.Cells {
		if c.Concurrency > maxC {
			maxC = c.Concurrency
		}
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: maxC,
	}
	// The v2 client pins a random member (it shuffles its endpoints), so with all of them it would
	// talk to the leader in one run of three, and a run's ratio would hang on that draw: it gets
	// the member etcd-ts is pinned to, a follower, as its only endpoint.
	v2Endpoints := s.Endpoints
	if s.Pin != "" {
		v2Endpoints = []string{s.Pin}
	}
	c2, err := v2.New(v2.Config{Endpoints: v2Endpoints, Transport: transport})
	if err != nil {
		return nil, err
	}
	out := &clients{keys: v2.NewKeysAPI(c2)}
	if needV3 {
		hosts := make([]string, len(s.Endpoints))
		for i, e := range s.Endpoints {
			hosts[i] = strings.TrimPrefix(e, "http://")
		}
		c3, err := clientv3.New(clientv3.Config{Endpoints: hosts, DialTimeout: 5 * time.Second})
		if err != nil {
			return nil, err
		}
		out.v3 = c3
	}
	return out, nil
}

func checkValue(got string) error {
	if got != value {
		return fmt.Errorf("read back %d bytes, not the value written", len(got))
	}
	return nil
}

func (c *clients) op(workload, prefix string) (op, error) {
	v2Read := prefix + "/k"
	v3Read := prefix + "/v3/k"
	switch workload {
	case "get-local", "get-quorum":
		opts := &v2.GetOptions{Quorum: workload == "get-quorum"}
		return func(ctx context.Context, _ int) error {
			resp, err := c.keys.Get(ctx, v2Read, opts)
			if err != nil {
				return err
			}
			return checkValue(resp.Node.Value)
		}, nil
	case "set":
		return func(ctx context.Context, i int) error {
			_, err := c.keys.Set(ctx, prefix+"/k"+strconv.Itoa(i%1000), value, nil)
			return err
		}, nil
	case "v3-put":
		return func(ctx context.Context, i int) error {
			_, err := c.v3.Put(ctx, prefix+"/v3/k"+strconv.Itoa(i%1000), value)
			return err
		}, nil
	case "v3-range-linearizable", "v3-range-serializable":
		var opts []clientv3.OpOption
		if workload == "v3-range-serializable" {
			opts = append(opts, clientv3.WithSerializable())
		}
		return func(ctx context.Context, _ int) error {
			resp, err := c.v3.Get(ctx, v3Read, opts...)
			if err != nil {
				return err
			}
			if len(resp.Kvs) == 0 {
				return errors.New("key not found")
			}
			return checkValue(string(resp.Kvs[0].Value))
		}, nil
	}
	return nil, fmt.Errorf("unknown workload %q", workload)
}

// errorLabel names a failure as the Node side does: etcd's v2 error code, the gRPC status code, or the error's type.
func errorLabel(err error) string {
	var e v2.Error
	if errors.As(err, &e) {
		return "etcd " + strconv.Itoa(e.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "DeadlineExceeded"
	}
	if s, ok := status.FromError(err); ok {
		return "grpc " + s.Code().String()
	}
	return fmt.Sprintf("%T", err)
}

type driven struct {
	ops, errors int
	byCode      map[string]int
	firstError  string
	latenciesMs []float64
}

// drive runs `run` on `concurrency` goroutines sharing one counter, until lim.Ops attempts or lim.Ms.
func drive(run op, concurrency int, lim limits, record bool) driven {
	var next int64 = -1
	deadline := time.Now().Add(time.Duration(lim.Ms * float64(time.Millisecond)))
	var mu sync.Mutex
	out := driven{byCode: map[string]int{}}
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine keeps its own latencies, merged once at the end, so recording takes no lock.
			var mine []float64
			done, failed := 0, 0
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= lim.Ops || !time.Now().Before(deadline) {
					break
				}
				start := time.Now()
				if err := run(ctx, i); err != nil {
					failed++
					mu.Lock()
					label := errorLabel(err)
					out.byCode[label]++
					if out.firstError == "" {
						out.firstError = label + ": " + err.Error()
					}
					mu.Unlock()
					continue
				}
				if record {
					mine = append(mine, float64(time.Since(start).Nanoseconds())/1e6)
				}
				done++
			}
			mu.Lock()
			out.ops += done
			out.errors += failed
			out.latenciesMs = append(out.latenciesMs, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// quantile is nearest-rank on sorted values, as bench/lib/stats.ts computes it.
func quantile(sorted []float64, q float64) *float64 {
	if len(sorted) == 0 {
		return nil
	}
	rank := int(math.Ceil(float64(len(sorted))*q)) - 1
	if rank < 0 {
		rank = 0
	}
	if rank > len(sorted)-1 {
		rank = len(sorted) - 1
	}
	return &sorted[rank]
}

const tick = 0.01 // USER_HZ

// machineBusy is the machine's busy CPU seconds since boot (all but idle and iowait), or -1.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line := strings.SplitN(string(b), "\n", 2)[0]
	f := strings.Fields(line)[1:]
	total, idle := 0.0, 0.0
	for i := 0; i < 8 && i < len(f); i++ {
		n, _ := strconv.ParseFloat(f[i], 64)
		total += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return (total - idle) * tick
}

// processCpu is a process's user + system CPU seconds, or -1 when it is gone.
func processCpu(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	s := string(b)
	f := strings.Split(s[strings.LastIndex(s, ")")+2:], " ")
	if len(f) < 13 {
		return -1
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) * tick
}

func serverCpu(pids []int) float64 {
	sum := 0.0
	for _, p := range pids {
		c := processCpu(p)
		if c < 0 {
			return -1
		}
		sum += c
	}
	return sum
}

func selfCpu() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	sec := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return sec(ru.Utime) + sec(ru.Stime)
}

// result is bench/lib/phase.ts's PhaseResult plus the cell's identity; NaN-free (JSON has none), so absent figures are null.
type result struct {
	Workload      string         `json:"workload"`
	Concurrency   int            `json:"concurrency"`
	Client        string         `json:"client"`
	Ops           int            `json:"ops"`
	Errors        int            `json:"errors"`
	ErrorsByCode  map[string]int `json:"errorsByCode"`
	FirstError    string         `json:"firstError,omitempty"`
	OpsPerSec     float64        `json:"opsPerSec"`
	P50Ms         *float64       `json:"p50Ms"`
	P99Ms         *float64       `json:"p99Ms"`
	CPUUsPerOp    *float64       `json:"cpuUsPerOp"`
	ServerUsPerOp *float64       `json:"serverUsPerOp,omitempty"`
	ForeignCores  *float64       `json:"foreignCores,omitempty"`
}

func runCell(run op, c cellSpec, s spec) result {
	warm := s.Warm
	if warm.Ops < 4*c.Concurrency {
		warm.Ops = 4 * c.Concurrency
	}
	drive(run, c.Concurrency, warm, false)
	t0 := time.Now()
	self0, busy0, server0 := selfCpu(), machineBusy(), serverCpu(s.ServerPids)
	d := drive(run, c.Concurrency, s.Limits, true)
	seconds := time.Since(t0).Seconds()
	self1, busy1, server1 := selfCpu(), machineBusy(), serverCpu(s.ServerPids)
	sort.Float64s(d.latenciesMs)
	r := result{
		Workload: c.Workload, Concurrency: c.Concurrency, Client: "go",
		Ops: d.ops, Errors: d.errors, ErrorsByCode: d.byCode, FirstError: d.firstError,
		OpsPerSec: float64(d.ops) / seconds,
		P50Ms:     quantile(d.latenciesMs, 0.5),
		P99Ms:     quantile(d.latenciesMs, 0.99),
	}
	if d.ops > 0 {
		cpu := (self1 - self0) * 1e6 / float64(d.ops)
		r.CPUUsPerOp = &cpu
		if server0 >= 0 && server1 >= 0 {
			server := (server1 - server0) * 1e6 / float64(d.ops)
			r.ServerUsPerOp = &server
			if busy0 >= 0 && busy1 >= 0 {
				foreign := (busy1 - busy0 - (self1 - self0) - (server1 - server0)) / seconds
				if foreign < 0 {
					foreign = 0
				}
				r.ForeignCores = &foreign
			}
		}
	}
	return r
}

// batchSpec is the migration benchmark's floor: write Keys keys under Prefix in transactions of
// Batch puts, Inflight transactions at a time, every TTLEvery-th key on one lease (bench/migrate.ts).
type batchSpec struct {
	Endpoints []string `json:"endpoints"`
	Prefix    string   `json:"prefix"`
	Keys      int      `json:"keys"`
	Batch     int      `json:"batch"`
	Inflight  int      `json:"inflight"`
	TTLEvery  int      `json:"ttlEvery"`
	TTL       int64    `json:"ttl"`
}

func batchPut(arg string) error {
	var b batchSpec
	if err := json.Unmarshal([]byte(arg), &b); err != nil {
		return err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: b.Endpoints, DialTimeout: time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx := context.Background()
	start := time.Now()
	lease, err := cli.Grant(ctx, b.TTL)
	if err != nil {
		return err
	}
	var next int64
	errs := make(chan error, b.Inflight)
	var wg sync.WaitGroup
	for w := 0; w < b.Inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				first := int(atomic.AddInt64(&next, int64(b.Batch))) - b.Batch
				if first >= b.Keys {
					return
				}
				ops := make([]clientv3.Op, 0, b.Batch)
				for i := first; i < first+b.Batch && i < b.Keys; i++ {
					key := fmt.Sprintf("%s/k%06d", b.Prefix, i)
					if b.TTLEvery > 0 && i%b.TTLEvery == 0 {
						ops = append(ops, clientv3.OpPut(key, value, clientv3.WithLease(lease.ID)))
					} else {
						ops = append(ops, clientv3.OpPut(key, value))
					}
				}
				if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]float64{"keys": float64(b.Keys), "ms": float64(time.Since(start).Microseconds()) / 1000})
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "batchput" {
		if err := batchPut(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: etcdbench '<WorkerSpec JSON>'")
		os.Exit(2)
	}
	var s spec
	if err := json.Unmarshal([]byte(os.Args[1]), &s); err != nil {
		fmt.Fprintln(os.Stderr, "Error: bad spec:", err)
		os.Exit(2)
	}
	needV3 := false
	for _, c := range s.Cells {
		needV3 = needV3 || strings.HasPrefix(c.Workload, "v3-")
	}
	cl, err := newClients(s, needV3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	if cl.v3 != nil {
		defer cl.v3.Close()
	}
	out := json.NewEncoder(os.Stdout)
	for _, c := range s.Cells {
		run, err := cl.op(c.Workload, s.Prefix)
		if err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(1)
		}
		if err := out.Encode(runCell(run, c, s)); err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(1)
		}
	}
}
