// Command demo-target is the Go service perfwatchd watches in demos and in
// tests: a /memory JSON endpoint with runtime statistics, a small HTTP API
// (items to list, create, get and update: what load scenarios exercise),
// net/http/pprof on its own port, and controls that make it leak memory or
// make /memory misbehave, so every failure path of the poller can be shown.
//
// The API port (-api) serves:
//
//	GET  /healthz                     {"status":"ok"}
//	GET  /api/items, POST /api/items  list, create (201, {"id":N})
//	GET  /api/items/ID, PUT ...       read, replace (404 when unknown)
//	GET  /api/stall, POST /api/stall?d=D&p=P
//	                                  stall every request for D each period P
//	POST /docs/DOC {"token":"T"}      add T to the shared set DOC (201)
//	GET  /docs/DOC[?replica=N]        {"doc","replica","elements":[...],
//	                                  "conflicts","converged"} (404 when unknown)
//	GET  /docs/stats[?dropped=1]      writes, applied, conflicts, merges, dropped,
//	                                  stalled, invented, rejected, faults (and the
//	                                  dropped_writes, invented_writes lists)
//	GET  /docs/faults, POST /docs/faults?drop=F&stall=D&stall_fraction=F&
//	                                  seed=S&invent=N&reset=1
//
// The documents are an add-wins set (OR-set) kept by -doc-replicas replicas
// that merge every -doc-merge-interval, with switches that lose, delay or
// invent writes: docs.go says how, and what a conflict is.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	leakTick     = 100 * time.Millisecond
	hugeBodySize = 10 << 20 // bytes of the "huge" /memory answer
	manyFields   = 3000     // extra numeric fields of the "many" /memory answer
	maxItemBody  = 1 << 20  // cap on a POST /api/items body
	shutdownWait = 5 * time.Second
)

// ---------------------------------------------------------------- sizes

// parseSize accepts the same forms as perfwatchd's units_parse_size:
// "8MiB", "64k", "1.5GiB", "100", "1MB"; binary K/KiB M/MiB G/GiB T/TiB,
// decimal kB/KB MB GB TB, optional B, optional "/s" for rates.
func parseSize(s string) (uint64, error) {
	in := s
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 8MiB, 512k, 1000)", in)
	}
	num, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (want e.g. 8MiB, 512k, 1000)", in)
	}
	mult, ok := sizeUnits[strings.TrimSpace(s[i:])]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown size unit (want B, K/KiB, M/MiB, G/GiB, T/TiB, kB, MB, GB, TB)", in)
	}
	v := num * float64(mult)
	if v >= math.MaxUint64/2 {
		return 0, fmt.Errorf("%q is too large", in)
	}
	return uint64(v), nil
}

var sizeUnits = map[string]uint64{
	"": 1, "B": 1,
	"K": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "MiB": 1 << 20,
	"G": 1 << 30, "GiB": 1 << 30, "T": 1 << 40, "TiB": 1 << 40,
	"k":  1 << 10,
	"kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
}

type sizeFlag struct{ v uint64 }

func (f *sizeFlag) String() string { return strconv.FormatUint(f.v, 10) }
func (f *sizeFlag) Set(s string) error {
	v, err := parseSize(s)
	if err == nil {
		f.v = v
	}
	return err
}

// ---------------------------------------------------------------- leaker

// leaker holds memory on purpose.  Every chunk is written page by page so the
// kernel really backs it and Sys/RSS grow, not just the virtual reservation.
type leaker struct {
	mu     sync.Mutex
	rate   uint64 // bytes per second, 0 = stopped
	limit  uint64 // stop once this many bytes are held
	held   uint64
	chunks [][]byte
}

func (l *leaker) setRate(r uint64) {
	l.mu.Lock()
	l.rate = r
	l.mu.Unlock()
}

func (l *leaker) tick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.rate / uint64(time.Second/leakTick)
	if n == 0 && l.rate > 0 {
		n = 1
	}
	if l.held >= l.limit {
		return
	}
	if n > l.limit-l.held {
		n = l.limit - l.held
	}
	if n == 0 {
		return
	}
	b := make([]byte, n)
	pg := os.Getpagesize()
	for i := 0; i < len(b); i += pg {
		b[i] = 1
	}
	l.chunks = append(l.chunks, b)
	l.held += n
}

func (l *leaker) run(ctx context.Context) {
	t := time.NewTicker(leakTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.tick()
		}
	}
}

// free drops everything held and hands it back to the OS; the rate stays.
func (l *leaker) free() uint64 {
	l.mu.Lock()
	freed := l.held
	l.chunks = nil
	l.held = 0
	l.mu.Unlock()
	runtime.GC()
	debug.FreeOSMemory()
	return freed
}

func (l *leaker) state() map[string]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return map[string]uint64{"rate": l.rate, "limit": l.limit, "held": l.held}
}

// ---------------------------------------------------------------- /memory

var memoryModes = map[string]bool{"ok": true, "garbage": true, "huge": true, "hang": true, "500": true, "many": true}

// memStatsFields lists runtime.MemStats' scalar fields in declaration order
// (the PauseNs, PauseEnd and BySize arrays are left out) plus NumGoroutine.
func memStatsFields() ([]string, []interface{}) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	v := reflect.ValueOf(ms)
	t := v.Type()
	names := make([]string, 0, t.NumField()+1)
	vals := make([]interface{}, 0, t.NumField()+1)
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Type.Kind() == reflect.Array {
			continue
		}
		names = append(names, t.Field(i).Name)
		vals = append(vals, v.Field(i).Interface())
	}
	names = append(names, "NumGoroutine")
	vals = append(vals, runtime.NumGoroutine())
	return names, vals
}

// memStatsJSON renders the fields as one object without the closing brace,
// keeping struct order so the output is easy to read by eye.
func memStatsJSON() []byte {
	names, vals := memStatsFields()
	var sb strings.Builder
	sb.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			sb.WriteByte(',')
		}
		val, _ := json.Marshal(vals[i])
		fmt.Fprintf(&sb, "%q:%s", n, val)
	}
	return []byte(sb.String())
}

type memoryServer struct {
	mode atomic.Value // string
	leak *leaker
}

func (m *memoryServer) serveMemory(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	switch m.mode.Load().(string) {
	case "garbage":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "not json{{{")
	case "huge":
		m.serveHuge(w, r)
	case "hang":
		<-r.Context().Done()
	case "500":
		http.Error(w, "internal error (demo-target memory mode 500)", http.StatusInternalServerError)
	case "many":
		// The real fields plus manyFields numeric ones: a target whose
		// JSON has far more fields than a /memory endpoint should.
		w.Header().Set("Content-Type", "application/json")
		body := append(memStatsJSON(), `,"Many":{`...)
		for i := 0; i < manyFields; i++ {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, fmt.Sprintf(`"f%d":%d`, i, i)...)
		}
		w.Write(append(body, "}}\n"...))
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(memStatsJSON(), "}\n"...))
	}
}

// serveHuge streams a syntactically valid /memory answer padded to 10 MiB
// with a long string field, chunked, so a client cannot know the size up
// front and must cap what it reads.
func (m *memoryServer) serveHuge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	head := append(memStatsJSON(), `,"Padding":"`...)
	tail := "\"}\n"
	w.Write(head)
	pad := hugeBodySize - len(head) - len(tail)
	chunk := []byte(strings.Repeat("x", 64<<10))
	fl, _ := w.(http.Flusher)
	for pad > 0 && r.Context().Err() == nil {
		n := len(chunk)
		if n > pad {
			n = pad
		}
		if _, err := w.Write(chunk[:n]); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		pad -= n
	}
	io.WriteString(w, tail)
}

func (m *memoryServer) serveControl(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	switch r.URL.Path {
	case "/control/leak":
		rate, err := parseSize(q.Get("rate"))
		if err != nil {
			http.Error(w, "rate: "+err.Error(), http.StatusBadRequest)
			return
		}
		m.leak.setRate(rate)
	case "/control/mode":
		mode := q.Get("memory")
		if !memoryModes[mode] {
			http.Error(w, fmt.Sprintf("memory: %q is not one of ok, garbage, huge, hang, 500, many", mode),
				http.StatusBadRequest)
			return
		}
		m.mode.Store(mode)
	case "/control/free":
		m.leak.free()
	default:
		http.NotFound(w, r)
		return
	}
	st := map[string]interface{}{"memory_mode": m.mode.Load().(string)}
	for k, v := range m.leak.state() {
		st["leak_"+k] = v
	}
	writeJSON(w, http.StatusOK, st)
}

func (m *memoryServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/memory", m.serveMemory)
	mux.HandleFunc("/control/", m.serveControl)
	return mux
}

// ---------------------------------------------------------------- API

type item struct {
	ID   int64           `json:"id"`
	Data json.RawMessage `json:"data"`
}

type itemStore struct {
	mu    sync.Mutex
	next  int64
	items map[int64]item
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (s *itemStore) list(w http.ResponseWriter) {
	s.mu.Lock()
	out := make([]item, 0, len(s.items))
	for _, it := range s.items {
		out = append(out, it)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

func (s *itemStore) create(w http.ResponseWriter, r *http.Request) {
	body, ok := readItemBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	s.next++
	it := item{ID: s.next, Data: json.RawMessage(body)}
	s.items[it.ID] = it
	s.mu.Unlock()
	w.Header().Set("Location", fmt.Sprintf("/api/items/%d", it.ID))
	writeJSON(w, http.StatusCreated, map[string]int64{"id": it.ID})
}

// readItemBody reads a POST or PUT body; it answers the error itself and
// returns false when the body is too large or not JSON.
func readItemBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxItemBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body: " + err.Error()})
		return nil, false
	}
	if !json.Valid(body) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is not valid JSON"})
		return nil, false
	}
	return body, true
}

func itemID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/api/items/"), 10, 64)
	return id, err == nil
}

func (s *itemStore) get(w http.ResponseWriter, r *http.Request) {
	id, valid := itemID(r)
	s.mu.Lock()
	it, ok := s.items[id]
	s.mu.Unlock()
	if !valid || !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such item"})
		return
	}
	writeJSON(w, http.StatusOK, it)
}

// update replaces the data of an existing item (PUT /api/items/ID).
func (s *itemStore) update(w http.ResponseWriter, r *http.Request) {
	id, valid := itemID(r)
	body, ok := readItemBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	_, found := s.items[id]
	if valid && found {
		s.items[id] = item{ID: id, Data: json.RawMessage(body)}
	}
	s.mu.Unlock()
	if !valid || !found {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such item"})
		return
	}
	writeJSON(w, http.StatusOK, item{ID: id, Data: json.RawMessage(body)})
}

func (s *itemStore) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/api/items", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			s.list(w)
		case http.MethodPost:
			s.create(w, r)
		default:
			http.Error(w, "GET or POST only", http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("/api/items/", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			s.get(w, r)
		case http.MethodPut:
			s.update(w, r)
		default:
			http.Error(w, "GET or PUT only", http.StatusMethodNotAllowed)
		}
	})
	return mux
}

// ---------------------------------------------------------------- stall

// staller makes the API stall like a service with periodic pauses (a GC,
// a checkpoint): every request arriving during [k*P, k*P+D), with k*P
// aligned to the Unix epoch on the wall clock, waits until k*P+D.  A load
// test can then compute the true latency distribution in closed form.
type staller struct {
	mu   sync.Mutex
	d, p time.Duration // d == 0: off
}

func checkStall(d, p time.Duration) error {
	if d < 0 || (d > 0 && d >= p) {
		return fmt.Errorf("stall %v every %v: want 0 <= stall < period", d, p)
	}
	return nil
}

func (s *staller) set(d, p time.Duration) error {
	if err := checkStall(d, p); err != nil {
		return err
	}
	s.mu.Lock()
	s.d, s.p = d, p
	s.mu.Unlock()
	return nil
}

func (s *staller) get() (time.Duration, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d, s.p
}

// wait blocks a request that arrives during a stall until the stall ends.
func (s *staller) wait(r *http.Request) {
	d, p := s.get()
	if d <= 0 {
		return
	}
	phase := time.Duration(time.Now().UnixNano() % int64(p))
	if phase >= d {
		return
	}
	t := time.NewTimer(d - phase)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// serveControl answers GET and POST /api/stall?d=D&p=P (d=0 turns it off);
// this one route never stalls.
func (s *staller) serveControl(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		q := r.URL.Query()
		d, err := time.ParseDuration(q.Get("d"))
		if err != nil {
			http.Error(w, fmt.Sprintf("d: %q is not a duration (want e.g. 1s, 250ms, 0)", q.Get("d")), http.StatusBadRequest)
			return
		}
		p, _ := s.get()
		if q.Get("p") != "" {
			if p, err = time.ParseDuration(q.Get("p")); err != nil {
				http.Error(w, fmt.Sprintf("p: %q is not a duration (want e.g. 5s)", q.Get("p")), http.StatusBadRequest)
				return
			}
		}
		if err := s.set(d, p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	} else if r.Method != http.MethodGet {
		http.Error(w, "GET or POST only", http.StatusMethodNotAllowed)
		return
	}
	d, p := s.get()
	writeJSON(w, http.StatusOK, map[string]string{"stall": d.String(), "period": p.String()})
}

// handler wraps the API: every route but /api/stall itself is stalled.
func (s *staller) handler(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/stall", s.serveControl)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.wait(r)
		api.ServeHTTP(w, r)
	}))
	return mux
}

// ---------------------------------------------------------------- pprof

func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// ---------------------------------------------------------------- main

type listener struct {
	name string
	ln   net.Listener
	srv  *http.Server
}

func listen(name, addr string, h http.Handler, base context.Context) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-%s %s: cannot listen: %w", name, addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		// Handlers that block (hang mode, pprof profile, streams) end when
		// this context is cancelled at shutdown.
		BaseContext: func(net.Listener) context.Context { return base },
	}
	return &listener{name: name, ln: ln, srv: srv}, nil
}

func main() {
	memAddr := flag.String("memory", "127.0.0.1:9091", "`ADDR` for GET /memory and POST /control/{leak,mode,free}")
	apiAddr := flag.String("api", "127.0.0.1:8080", "`ADDR` for the demo HTTP API (GET/POST /api/items, GET/PUT /api/items/ID, /healthz, GET/POST /api/stall, GET/POST /docs/DOC, GET /docs/stats, GET/POST /docs/faults)")
	pprofAddr := flag.String("pprof", "127.0.0.1:6060", "`ADDR` for net/http/pprof (/debug/pprof/)")
	leakRate := &sizeFlag{}
	leakLimit := &sizeFlag{v: 2 << 30}
	flag.Var(leakRate, "leak", "leak `RATE` bytes per second from the start (e.g. 8MiB; 0 = off)")
	flag.Var(leakLimit, "leak-limit", "stop leaking once `SIZE` bytes are held (e.g. 2GiB)")
	memMode := flag.String("memory-mode", "ok", "initial /memory behaviour `MODE`: ok, garbage, huge, hang, 500, many")
	stall := flag.Duration("stall", 0, "stall the API for `D` every -stall-period (0 = off)")
	stallPeriod := flag.Duration("stall-period", 5*time.Second, "the stall's period `P`, aligned to the wall clock")
	replicas := flag.Int("doc-replicas", 3, "`N` replicas keep the /docs documents")
	mergeEvery := flag.Duration("doc-merge-interval", 50*time.Millisecond, "the replicas merge every `D`")
	var df docFaults
	flag.Float64Var(&df.drop, "doc-drop", 0, "acknowledge and then drop a fraction `F` of /docs writes")
	flag.DurationVar(&df.stall, "doc-stall", 0, "answer -doc-stall-fraction of /docs writes only after `D` (applied at once)")
	flag.Float64Var(&df.stallFraction, "doc-stall-fraction", 0, "the fraction `F` of /docs writes -doc-stall holds")
	flag.Uint64Var(&df.seed, "doc-seed", 1, "`SEED` of the choice of dropped and stalled writes")
	flag.IntVar(&df.invent, "doc-invent", 0, "the first `N` /docs writes each add a token nobody sent")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demo-target: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if !memoryModes[*memMode] {
		fmt.Fprintf(os.Stderr, "demo-target: -memory-mode: %q is not one of ok, garbage, huge, hang, 500, many\n", *memMode)
		os.Exit(2)
	}
	st := &staller{}
	if err := st.set(*stall, *stallPeriod); err != nil {
		fmt.Fprintf(os.Stderr, "demo-target: -stall: %v\n", err)
		os.Exit(2)
	}
	docs, err := newDocStore(*replicas, *mergeEvery, df)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo-target: %v\n", err)
		os.Exit(2)
	}
	os.Exit(run(*memAddr, *apiAddr, *pprofAddr, *memMode, leakRate.v, leakLimit.v, st, docs))
}

// apiHandler is the API port: the items and the documents behind the
// stall switch, and the documents' fault switches, which are never stalled.
func apiHandler(items *itemStore, st *staller, docs *docStore) http.Handler {
	inner := http.NewServeMux()
	inner.Handle("/", items.handler())
	inner.Handle("/docs/", docs.handler())
	top := http.NewServeMux()
	top.HandleFunc("/docs/faults", docs.serveFaults)
	top.Handle("/", st.handler(inner))
	return top
}

func run(memAddr, apiAddr, pprofAddr, mode string, rate, limit uint64, st *staller, docs *docStore) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()

	leak := &leaker{rate: rate, limit: limit}
	mem := &memoryServer{leak: leak}
	mem.mode.Store(mode)
	items := &itemStore{items: map[int64]item{}}

	var ls []*listener
	for _, spec := range []struct {
		name, addr string
		h          http.Handler
	}{
		{"memory", memAddr, mem.handler()},
		{"api", apiAddr, apiHandler(items, st, docs)},
		{"pprof", pprofAddr, pprofHandler()},
	} {
		l, err := listen(spec.name, spec.addr, spec.h, base)
		if err != nil {
			fmt.Fprintf(os.Stderr, "demo-target: %v\n", err)
			for _, o := range ls {
				o.ln.Close()
			}
			return 1
		}
		ls = append(ls, l)
	}
	return serve(ctx, ls, leak, docs, cancelBase)
}

func serve(ctx context.Context, ls []*listener, leak *leaker, docs *docStore, cancelBase context.CancelFunc) int {
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func(l *listener) {
			if err := l.srv.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("-%s %s: %w", l.name, l.ln.Addr(), err)
			}
		}(l)
	}
	leakCtx, stopLeak := context.WithCancel(ctx)
	defer stopLeak()
	go leak.run(leakCtx)
	go docs.run(leakCtx)

	fmt.Printf("demo-target: memory http://%s/memory, api http://%s, pprof http://%s/debug/pprof\n",
		ls[0].ln.Addr(), ls[1].ln.Addr(), ls[2].ln.Addr())

	code := 0
	select {
	case <-ctx.Done():
	case err := <-errc:
		fmt.Fprintf(os.Stderr, "demo-target: %v\n", err)
		code = 1
	}
	cancelBase()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	for _, l := range ls {
		if l.srv.Shutdown(sctx) != nil {
			l.srv.Close()
		}
	}
	return code
}
