package main

// Shared documents for the lost-write check (perfwatchd issue 8): each
// document is a set of tokens that many writers add to at once, kept by N
// replicas that accept writes independently and merge asynchronously, with
// switches that make the service lose, delay or invent writes.
//
// The model.  Every replica r keeps an append-only log per document of the
// tokens it accepted; an add is tagged (r, n): the n-th add at replica r.
// Replica j's state of a document is a version vector vv[j]: it holds the
// first vv[j][r] adds of every replica r's log (the logs themselves are
// shared, since every replica's copy of r's log is a prefix of it).  A
// document's elements at replica j are the union of those prefixes: an
// observed-remove set (OR-set) with adds only, so a token is present as long
// as one of its tags is: concurrent adds of the same or of different tokens
// are all kept (add wins), whatever the order of the merges.  Every
// -doc-merge-interval each replica pulls every other's adds it has not seen
// (vv[j] = max(vv[j], vv[src])), so the replicas converge within one
// interval after the writes stop.
//
// Conflicts.  A merge of replica src into replica j is a conflict when the
// two versions are concurrent: each holds an add the other has not seen
// (neither version vector covers the other).  That is what a CRDT store
// calls merging concurrent versions of one document; with writers spread
// over the replicas it happens about (replicas - 1) times per busy document
// per merge interval.  GET /docs/stats counts them ("conflicts"), per
// document in GET /docs/DOC.
//
// Faults (flags at start, or POST /docs/faults at run time):
//   - drop F: a fraction F of writes is acknowledged (201) and then not
//     applied; each is counted ("dropped") and listed with its document by
//     GET /docs/stats?dropped=1 (the first maxListed), so a test can compare
//     exactly.
//   - stall D, stall_fraction F: a fraction F of writes (not dropped ones)
//     is applied at once and answered only after D: a client with a shorter
//     timeout sees them as indeterminate, though they happened ("stalled").
//   - invent N: the next N writes each add, besides their own token, one
//     token nobody sent ("invented-SEED-K"), listed like dropped ones
//     ("invented").
// Which writes are dropped or stalled depends only on the seed and the
// token (a hash), not on arrival order, so a run repeats exactly.

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	maxDocBody     = 4 << 10   // bytes of a POST /docs/DOC body
	maxTokenLen    = 128       // bytes of one token
	maxDocuments   = 1000      // documents at most
	maxDocElements = 4_000_000 // adds kept over all documents
	maxListed      = 100_000   // dropped or invented writes listed by GET /docs/stats?dropped=1
	maxReplicas    = 16
)

var docNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type docFaults struct {
	drop          float64
	stall         time.Duration
	stallFraction float64
	seed          uint64
	invent        int // writes still to invent an element
}

func (f docFaults) check() error {
	switch {
	case !(f.drop >= 0 && f.drop <= 1):
		return fmt.Errorf("drop: %v is not a fraction in [0, 1]", f.drop)
	case !(f.stallFraction >= 0 && f.stallFraction <= 1):
		return fmt.Errorf("stall_fraction: %v is not a fraction in [0, 1]", f.stallFraction)
	case f.stall < 0:
		return fmt.Errorf("stall: %v is negative", f.stall)
	case f.invent < 0 || f.invent > 1000:
		return fmt.Errorf("invent: %d is not in [0, 1000]", f.invent)
	}
	return nil
}

type document struct {
	mu        sync.Mutex
	logs      [][]string // logs[r]: the tokens replica r accepted, in order
	vv        [][]int    // vv[j][r]: how many of logs[r] replica j holds
	conflicts int64
}

type docWrite struct {
	Doc   string `json:"doc"`
	Token string `json:"token"`
}

type docStore struct {
	replicas int
	interval time.Duration

	mu        sync.Mutex // guards docs, faults, the lists and inventSeq
	docs      map[string]*document
	faults    docFaults
	dropped   []docWrite
	invented  []docWrite
	inventSeq int

	elements                               atomic.Int64
	writes, applied, nDropped, stalled     atomic.Int64
	nInvented, rejected, conflicts, merges atomic.Int64
	readRR                                 atomic.Uint64
}

func newDocStore(replicas int, interval time.Duration, f docFaults) (*docStore, error) {
	if replicas < 1 || replicas > maxReplicas {
		return nil, fmt.Errorf("-doc-replicas: %d is not in [1, %d]", replicas, maxReplicas)
	}
	if interval <= 0 {
		return nil, fmt.Errorf("-doc-merge-interval: %v is not positive", interval)
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return &docStore{replicas: replicas, interval: interval, docs: map[string]*document{}, faults: f}, nil
}

// pick hashes the seed, a salt and the token into [0, 1).
func pick(seed uint64, salt byte, token string) float64 {
	h := fnv.New64a()
	var b [9]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(seed >> (8 * i))
	}
	b[8] = salt
	h.Write(b[:])
	io.WriteString(h, token)
	z := h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

func (s *docStore) newDocument() *document {
	d := &document{logs: make([][]string, s.replicas), vv: make([][]int, s.replicas)}
	for j := range d.vv {
		d.vv[j] = make([]int, s.replicas)
	}
	return d
}

// plan is what the faults decide for one write.
type plan struct {
	doc                 *document
	replica             int
	drop, stall, invent bool
	stallFor            time.Duration
	inventToken         string
}

func (s *docStore) plan(name, token string) (plan, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.docs[name]
	if d == nil {
		if len(s.docs) >= maxDocuments {
			return plan{}, http.StatusInsufficientStorage, fmt.Sprintf("too many documents (%d)", maxDocuments)
		}
		d = s.newDocument()
		s.docs[name] = d
	}
	f := s.faults
	p := plan{doc: d, replica: int(pick(f.seed, 'r', token) * float64(s.replicas))}
	p.drop = f.drop > 0 && pick(f.seed, 'd', token) < f.drop
	p.stall = !p.drop && f.stall > 0 && f.stallFraction > 0 && pick(f.seed, 's', token) < f.stallFraction
	p.stallFor = f.stall
	if p.drop {
		if len(s.dropped) < maxListed {
			s.dropped = append(s.dropped, docWrite{name, token})
		}
		s.nDropped.Add(1)
	} else if f.invent > 0 {
		s.faults.invent--
		s.inventSeq++
		p.invent = true
		p.inventToken = fmt.Sprintf("invented-%d-%d", f.seed, s.inventSeq)
		if len(s.invented) < maxListed {
			s.invented = append(s.invented, docWrite{name, p.inventToken})
		}
		s.nInvented.Add(1)
	}
	return p, 0, ""
}

func (d *document) add(r int, token string) {
	d.logs[r] = append(d.logs[r], token)
	d.vv[r][r] = len(d.logs[r])
}

// write answers POST /docs/DOC {"token": "..."}.
func (s *docStore) write(w http.ResponseWriter, r *http.Request, name string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDocBody))
	if err != nil {
		s.rejected.Add(1)
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body: " + err.Error()})
		return
	}
	var in struct {
		Token *string `json:"token"`
	}
	if json.Unmarshal(body, &in) != nil || in.Token == nil || *in.Token == "" || len(*in.Token) > maxTokenLen {
		s.rejected.Add(1)
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"error": fmt.Sprintf(`body: want {"token":"..."} with 1 to %d bytes of token`, maxTokenLen)})
		return
	}
	token := *in.Token
	if s.elements.Add(1) > maxDocElements {
		s.elements.Add(-1)
		s.rejected.Add(1)
		writeJSON(w, http.StatusInsufficientStorage, map[string]string{"error": fmt.Sprintf("too many elements (%d)", maxDocElements)})
		return
	}
	p, code, msg := s.plan(name, token)
	if code != 0 {
		s.elements.Add(-1)
		s.rejected.Add(1)
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	s.writes.Add(1)
	if p.drop {
		s.elements.Add(-1)
	} else {
		p.doc.mu.Lock()
		p.doc.add(p.replica, token)
		if p.invent {
			p.doc.add(p.replica, p.inventToken)
		}
		p.doc.mu.Unlock()
		s.applied.Add(1)
	}
	if p.stall {
		s.stalled.Add(1)
		t := time.NewTimer(p.stallFor)
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	writeJSON(w, http.StatusCreated, map[string]interface{}{"doc": name, "token": token, "replica": p.replica})
}

func covers(a, b []int) bool {
	for i := range a {
		if a[i] < b[i] {
			return false
		}
	}
	return true
}

// mergeDoc lets every replica pull what the others hold; returns when
// every replica holds every add.
func (s *docStore) mergeDoc(d *document) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for j := range d.vv {
		for src := range d.vv {
			if src == j || covers(d.vv[j], d.vv[src]) {
				continue
			}
			if !covers(d.vv[src], d.vv[j]) {
				d.conflicts++
				s.conflicts.Add(1)
			}
			for r, n := range d.vv[src] {
				if n > d.vv[j][r] {
					d.vv[j][r] = n
				}
			}
			s.merges.Add(1)
		}
	}
}

func (s *docStore) mergeAll() {
	s.mu.Lock()
	ds := make([]*document, 0, len(s.docs))
	for _, d := range s.docs {
		ds = append(ds, d)
	}
	s.mu.Unlock()
	for _, d := range ds {
		s.mergeDoc(d)
	}
}

func (s *docStore) run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.mergeAll()
		}
	}
}

// read answers GET /docs/DOC[?replica=N] from one replica (by turns when
// not given): its elements, each once, in the order of the replicas' logs.
func (s *docStore) read(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.Lock()
	d := s.docs[name]
	s.mu.Unlock()
	if d == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such document"})
		return
	}
	j := int(s.readRR.Add(1) % uint64(s.replicas))
	if q := r.URL.Query().Get("replica"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 || n >= s.replicas {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("replica: %q is not in [0, %d)", q, s.replicas)})
			return
		}
		j = n
	}
	d.mu.Lock()
	parts := make([][]string, s.replicas)
	converged := true
	for r := range parts {
		parts[r] = d.logs[r][:d.vv[j][r]]
		converged = converged && d.vv[j][r] == len(d.logs[r])
	}
	conflicts := d.conflicts
	d.mu.Unlock()
	seen := map[string]bool{}
	elements := []string{}
	for _, p := range parts {
		for _, t := range p {
			if !seen[t] {
				seen[t] = true
				elements = append(elements, t)
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{
		"doc": name, "replica": j, "elements": elements, "conflicts": conflicts, "converged": converged})
}

func (s *docStore) faultsJSON() map[string]interface{} {
	return map[string]interface{}{
		"drop": s.faults.drop, "stall": s.faults.stall.String(), "stall_fraction": s.faults.stallFraction,
		"seed": s.faults.seed, "invent": s.faults.invent,
	}
}

// stats answers GET /docs/stats[?dropped=1].
func (s *docStore) stats(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := map[string]interface{}{
		"documents": len(s.docs), "replicas": s.replicas, "merge_interval": s.interval.String(),
		"writes": s.writes.Load(), "applied": s.applied.Load(), "rejected": s.rejected.Load(),
		"conflicts": s.conflicts.Load(), "merges": s.merges.Load(),
		"dropped": s.nDropped.Load(), "stalled": s.stalled.Load(), "invented": s.nInvented.Load(),
		"faults": s.faultsJSON(),
	}
	if r.URL.Query().Get("dropped") == "1" {
		out["dropped_writes"] = append([]docWrite{}, s.dropped...)
		out["invented_writes"] = append([]docWrite{}, s.invented...)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// reset forgets every document, list and counter; the faults stay.
func (s *docStore) reset() {
	s.mu.Lock()
	s.docs = map[string]*document{}
	s.dropped, s.invented, s.inventSeq = nil, nil, 0
	for _, c := range []*atomic.Int64{&s.elements, &s.writes, &s.applied, &s.nDropped, &s.stalled,
		&s.nInvented, &s.rejected, &s.conflicts, &s.merges} {
		c.Store(0)
	}
	s.mu.Unlock()
}

// parseFaults applies the query's switches to f: drop, stall,
// stall_fraction, seed, invent; the others stay.
func parseFaults(q map[string][]string, f docFaults) (docFaults, error) {
	get := func(k string) (string, bool) {
		v, ok := q[k]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	var err error
	if v, ok := get("drop"); ok {
		if f.drop, err = strconv.ParseFloat(v, 64); err != nil {
			return f, fmt.Errorf("drop: %q is not a number", v)
		}
	}
	if v, ok := get("stall"); ok {
		if f.stall, err = time.ParseDuration(v); err != nil {
			return f, fmt.Errorf("stall: %q is not a duration (want e.g. 3s, 0)", v)
		}
	}
	if v, ok := get("stall_fraction"); ok {
		if f.stallFraction, err = strconv.ParseFloat(v, 64); err != nil {
			return f, fmt.Errorf("stall_fraction: %q is not a number", v)
		}
	}
	if v, ok := get("seed"); ok {
		if f.seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			return f, fmt.Errorf("seed: %q is not an unsigned integer", v)
		}
	}
	if v, ok := get("invent"); ok {
		if f.invent, err = strconv.Atoi(v); err != nil {
			return f, fmt.Errorf("invent: %q is not an integer", v)
		}
	}
	return f, f.check()
}

// serveFaults answers GET and POST /docs/faults?drop=F&stall=D&
// stall_fraction=F&seed=S&invent=N&reset=1; it is never stalled.
func (s *docStore) serveFaults(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		s.mu.Lock()
		f, err := parseFaults(r.URL.Query(), s.faults)
		if err == nil {
			s.faults = f
		}
		s.mu.Unlock()
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if r.URL.Query().Get("reset") == "1" {
			s.reset()
		}
	} else if r.Method != http.MethodGet {
		http.Error(w, "GET or POST only", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	out := s.faultsJSON()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handler serves /docs/stats and /docs/DOC (GET, POST).
func (s *docStore) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/docs/")
		if name == "stats" {
			if r.Method != http.MethodGet {
				http.Error(w, "GET only", http.StatusMethodNotAllowed)
				return
			}
			s.stats(w, r)
			return
		}
		if !docNameRE.MatchString(name) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "a document name is 1 to 64 of A-Z a-z 0-9 . _ -"})
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.read(w, r, name)
		case http.MethodPost:
			s.write(w, r, name)
		default:
			http.Error(w, "GET or POST only", http.StatusMethodNotAllowed)
		}
	})
}
