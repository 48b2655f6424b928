package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Fake engines: with STARLAB_FAKE_ENGINE set, the test binary plays llama-server, ollama (serve,
// create and the runner serve spawns) or SGLang's launcher — enough of each to exercise an
// adapter's command line, readiness, post-start step, version and start-up lines, as the fake
// vllm (testdata/vllm) does for vLLM. Their start-up lines are engines.md's fixture formats.

// fakeEngines writes shell scripts that run the test binary as each fake engine into a fresh
// directory, puts it first on PATH, and points STARLAB_SGLANG at the fake launcher.
func fakeEngines(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, role := range map[string]string{"llama-server": "llama-server", "ollama": "ollama", "fake-python": "sglang"} {
		script := fmt.Sprintf("#!/bin/sh\nSTARLAB_FAKE_ENGINE=%s exec \"$STARLAB_SIM_BIN\" \"$@\"\n", role)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("STARLAB_SIM_BIN", os.Args[0])
	t.Setenv("STARLAB_SGLANG", filepath.Join(dir, "fake-python")+" -m sglang.launch_server")
	t.Setenv("STARLAB_LLAMA_CPP", "")
	t.Setenv("STARLAB_OLLAMA", "")
	return dir
}

// fakeEngineMain runs the test binary as a fake engine; it returns the exit status.
func fakeEngineMain(role string, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	switch role {
	case "llama-server":
		return fakeLlamaServer(ctx, flagMap(args))
	case "sglang":
		return fakeSGLang(ctx, flagMap(args))
	case "ollama":
		if len(args) > 0 && args[0] == "serve" {
			return fakeOllamaServe(ctx)
		}
		if len(args) == 4 && args[0] == "create" && args[2] == "-f" {
			return fakeOllamaCreate(ctx, args[1], args[3])
		}
		fmt.Fprintf(os.Stderr, "Error: unknown command %q\n", args)
		return 1
	case "runner", "child":
		<-ctx.Done() // a child of the server, in its process group, until the group is killed
		return 0
	}
	return 2
}

// flagMap reads "--name value" pairs ("--flag" alone maps to "").
func flagMap(args []string) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "--") {
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			m[args[i]] = args[i+1]
			i++
		} else {
			m[args[i]] = ""
		}
	}
	return m
}

// spawnChild starts the test binary as a child in this process's group (no Setpgid, as ollama
// starts its runner) and prints its pid, so tests can check that stopping the server ends it.
func spawnChild(role string) *exec.Cmd {
	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), "STARLAB_FAKE_ENGINE="+role)
	if err := c.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot start the %s: %v\n", role, err)
		return nil
	}
	fmt.Printf("fake %s pid=%d\n", role, c.Process.Pid)
	return c
}

func listen(host, port string) (net.Listener, int) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: couldn't bind HTTP server socket: %v\n", err)
		os.Exit(1)
	}
	return l, l.Addr().(*net.TCPAddr).Port
}

func writeJSONReply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func serveUntil(ctx context.Context, l net.Listener, h http.Handler) int {
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	<-ctx.Done()
	srv.Close()
	return 0
}

func fakeLlamaServer(ctx context.Context, f map[string]string) int {
	fmt.Printf("fake pid=%d\n", os.Getpid())
	fmt.Println("build: 4524 (6171c9d2) with cc (Debian 12.2.0-14) 12.2.0 for x86_64-linux-gnu")
	if _, ok := f["--fake-exit-at-start"]; ok {
		fmt.Fprintf(os.Stderr, "llama_model_load: error loading model: tensor 'token_embd.weight' data is not within the file bounds\n")
		fmt.Fprintf(os.Stderr, "srv    load_model: failed to load model, '%s'\n", f["--model"])
		return 1
	}
	if _, ok := f["--fake-child"]; ok {
		spawnChild("child")
	}
	slots, _ := strconv.Atoi(f["--parallel"])
	ctxSize, _ := strconv.Atoi(f["--ctx-size"])
	if ctxSize == 0 {
		ctxSize = 4096 // n_ctx_train of the "model"
	}
	loading := 300 * time.Millisecond
	if d, err := time.ParseDuration(f["--fake-loading"]); err == nil {
		loading = d
	}
	l, port := listen(f["--host"], f["--port"])
	fmt.Printf("main: HTTP server is listening, hostname: %s, port: %d, http threads: 3\n", f["--host"], port)
	var mu sync.Mutex
	loaded := false
	go func() {
		select {
		case <-time.After(loading):
		case <-ctx.Done():
			return
		}
		fmt.Printf("llama_init_from_model: n_seq_max     = %d\n", slots)
		fmt.Printf("llama_init_from_model: n_ctx         = %d\n", ctxSize)
		fmt.Printf("llama_init_from_model: n_ctx_per_seq = %d\n", ctxSize/slots)
		fmt.Printf("llama_kv_cache_init: kv_size = %d, offload = 1, type_k = 'f16', type_v = 'f16', n_layer = 2, can_shift = 1\n", ctxSize)
		fmt.Printf("llama_init_from_model: KV self size  = %7.2f MiB, K (f16): %7.2f MiB, V (f16): %7.2f MiB\n",
			float64(ctxSize)/4096, float64(ctxSize)/8192, float64(ctxSize)/8192)
		fmt.Printf("srv          init: initializing slots, n_slots = %d\n", slots)
		for i := 0; i < slots; i++ {
			fmt.Printf("slot         init: id  %d | task -1 | new slot n_ctx_slot = %d\n", i, ctxSize/slots)
		}
		fmt.Printf("main: server is listening on http://%s:%d - starting the main loop\n", f["--host"], port)
		mu.Lock()
		loaded = true
		mu.Unlock()
	}()
	alias := f["--model"]
	if a, ok := f["--alias"]; ok {
		alias = a
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ok := loaded
		mu.Unlock()
		if !ok {
			writeJSONReply(w, 503, map[string]any{"error": map[string]any{"code": 503, "message": "Loading model", "type": "unavailable_error"}})
			return
		}
		writeJSONReply(w, 200, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		writeJSONReply(w, 200, map[string]any{"object": "list", "data": []map[string]any{{"id": alias, "object": "model", "owned_by": "llamacpp"}}})
	})
	mux.HandleFunc("GET /props", func(w http.ResponseWriter, r *http.Request) {
		writeJSONReply(w, 200, map[string]any{"build_info": "b4524-6171c9d2", "total_slots": slots, "model_path": f["--model"],
			"default_generation_settings": map[string]any{"n_ctx": ctxSize / slots}})
	})
	return serveUntil(ctx, l, mux)
}

func fakeSGLang(ctx context.Context, f map[string]string) int {
	if _, ok := f["--enable-metrics"]; !ok {
		fmt.Fprintln(os.Stderr, "fake sglang: started without --enable-metrics")
		return 1
	}
	l, port := listen(f["--host"], f["--port"])
	running, ctxLen := f["--max-running-requests"], f["--context-length"]
	if running == "" {
		running = "2048"
	}
	if ctxLen == "" {
		ctxLen = "131072"
	}
	fmt.Println("[2025-03-08 12:29:21 TP0] KV Cache is allocated. #tokens: 46611, K size: 1.42 GB, V size: 1.42 GB")
	fmt.Println("[2025-03-08 12:29:21 TP0] Memory pool end. avail mem=2.09 GB")
	fmt.Printf("[2025-03-08 12:29:22 TP0] max_total_num_tokens=46611, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=%s, context_len=%s\n", running, ctxLen)
	fmt.Printf("[2025-03-08 12:29:23] INFO:     Uvicorn running on http://%s:%d (Press CTRL+C to quit)\n", f["--host"], port)
	fmt.Println("[2025-03-08 12:29:24] The server is fired up and ready to roll!")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		writeJSONReply(w, 200, map[string]any{"object": "list", "data": []map[string]any{{"id": f["--model-path"], "object": "model", "owned_by": "sglang"}}})
	})
	mux.HandleFunc("GET /get_server_info", func(w http.ResponseWriter, r *http.Request) {
		writeJSONReply(w, 200, map[string]any{"version": "0.4.3.post2", "max_total_num_tokens": 46611})
	})
	return serveUntil(ctx, l, mux)
}

// fakeOllamaServe is `ollama serve`: configured by OLLAMA_* variables, it creates models from
// uploaded files and starts a runner child when one is loaded.
func fakeOllamaServe(ctx context.Context) int {
	host, port, _ := net.SplitHostPort(os.Getenv("OLLAMA_HOST"))
	for _, v := range []string{"OLLAMA_MODELS", "HOME"} {
		if st, err := os.Stat(os.Getenv(v)); err != nil || !st.IsDir() {
			fmt.Fprintf(os.Stderr, "Error: %s=%q is not a directory\n", v, os.Getenv(v))
			return 1
		}
	}
	parallel, _ := strconv.Atoi(os.Getenv("OLLAMA_NUM_PARALLEL"))
	if parallel == 0 {
		parallel = 4
	}
	fmt.Printf("fake pid=%d\n", os.Getpid())
	fmt.Printf("time=2025-04-10T12:00:00.000Z level=INFO source=routes.go:1231 msg=\"server config\" env=\"map[OLLAMA_KEEP_ALIVE:%s OLLAMA_NOPRUNE:%s OLLAMA_NUM_PARALLEL:%s]\"\n",
		os.Getenv("OLLAMA_KEEP_ALIVE"), os.Getenv("OLLAMA_NOPRUNE"), os.Getenv("OLLAMA_NUM_PARALLEL"))
	l, p := listen(host, port)
	fmt.Printf("time=2025-04-10T12:00:00.001Z level=INFO source=routes.go:1298 msg=\"Listening on %s:%d (version 0.6.5)\"\n", host, p)
	var mu sync.Mutex
	models := map[string]int{} // name:latest -> num_ctx
	var runner *exec.Cmd
	find := func(name string) (string, bool) {
		if !strings.Contains(name, ":") {
			name += ":latest"
		}
		_, ok := models[name]
		return name, ok
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "Ollama is running") })
	mux.HandleFunc("GET /api/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSONReply(w, 200, map[string]string{"version": "0.6.5"})
	})
	mux.HandleFunc("POST /api/create", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model, From, Template string
			NumCtx                int `json:"num_ctx"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if req.Template != "{{ .Prompt }}" {
			writeJSONReply(w, 400, map[string]string{"error": "want the raw template, got " + req.Template})
			return
		}
		mu.Lock()
		models[req.Model+":latest"] = req.NumCtx
		mu.Unlock()
		os.WriteFile(filepath.Join(os.Getenv("OLLAMA_MODELS"), "manifest-"+req.Model), []byte(req.From), 0o644)
		writeJSONReply(w, 200, map[string]string{"status": "success"})
	})
	mux.HandleFunc("POST /api/generate", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model     string
			KeepAlive *int `json:"keep_alive"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		defer mu.Unlock()
		name, ok := find(req.Model)
		if !ok {
			writeJSONReply(w, 404, map[string]string{"error": fmt.Sprintf("model '%s' not found", req.Model)})
			return
		}
		if req.KeepAlive == nil || *req.KeepAlive != -1 {
			writeJSONReply(w, 400, map[string]string{"error": "want keep_alive -1"})
			return
		}
		numCtx := models[name]
		if runner == nil {
			fmt.Printf("time=2025-04-10T12:00:00.001Z level=INFO source=server.go:405 msg=\"starting llama server\" cmd=\"%s runner --model %s/blobs/sha256-0123abcd --ctx-size %d --batch-size 512 --threads 2 --no-mmap --parallel %d --port 41235\"\n",
				os.Args[0], os.Getenv("OLLAMA_MODELS"), numCtx*parallel, parallel)
			runner = spawnChild("runner")
			fmt.Printf("llama_init_from_model: n_seq_max     = %d\n", parallel)
			fmt.Printf("llama_init_from_model: n_ctx         = %d\n", numCtx*parallel)
			fmt.Printf("llama_init_from_model: n_ctx_per_seq = %d\n", numCtx)
			fmt.Printf("llama_kv_cache_init: kv_size = %d, offload = 1, type_k = 'f16', type_v = 'f16', n_layer = 2, can_shift = 1\n", numCtx*parallel)
			fmt.Printf("llama_init_from_model: KV self size  =    2.00 MiB, K (f16):    1.00 MiB, V (f16):    1.00 MiB\n")
			fmt.Printf("time=2025-04-10T12:00:01.500Z level=INFO source=server.go:619 msg=\"llama runner started in 1.50 seconds\"\n")
		}
		writeJSONReply(w, 200, map[string]any{"model": req.Model, "done": true, "done_reason": "load"})
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var data []map[string]any
		for name := range models {
			data = append(data, map[string]any{"id": name, "object": "model", "owned_by": "library"})
		}
		writeJSONReply(w, 200, map[string]any{"object": "list", "data": data})
	})
	return serveUntil(ctx, l, mux)
}

// fakeOllamaCreate is `ollama create NAME -f Modelfile`: it reads the Modelfile as ollama's
// parser does (one command per line) and posts the model to the server at OLLAMA_HOST.
func fakeOllamaCreate(ctx context.Context, name, modelfile string) int {
	fmt.Printf("fake create pid=%d\n", os.Getpid())
	if os.Getenv("STARLAB_FAKE_CREATE_HANG") == "1" {
		<-ctx.Done()
		return 1
	}
	data, err := os.ReadFile(modelfile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		return 1
	}
	req := map[string]any{"model": name}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch strings.ToUpper(cmd) {
		case "FROM":
			if _, err := os.Stat(arg); err != nil {
				fmt.Fprintf(os.Stderr, "Error: pull model manifest: file does not exist\n")
				return 1
			}
			req["from"] = arg
		case "TEMPLATE":
			req["template"] = arg
		case "PARAMETER":
			if n, ok := strings.CutPrefix(arg, "num_ctx "); ok {
				req["num_ctx"], _ = strconv.Atoi(n)
			}
		}
	}
	body, _ := json.Marshal(req)
	resp, err := http.Post("http://"+os.Getenv("OLLAMA_HOST")+"/api/create", "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: could not connect to ollama app, is it running?\n")
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		fmt.Fprintf(os.Stderr, "Error: HTTP %d\n", resp.StatusCode)
		return 1
	}
	fmt.Println("success")
	return 0
}

// pidsIn reads the pids the fakes printed ("fake pid=N", "fake runner pid=N") from a log.
func pidsIn(t *testing.T, log string) []int {
	t.Helper()
	var pids []int
	for _, m := range regexp.MustCompile(`fake (?:\w+ )?pid=(\d+)`).FindAllStringSubmatch(log, -1) {
		n, _ := strconv.Atoi(m[1])
		pids = append(pids, n)
	}
	return pids
}

// allGone waits up to 10 s for every pid to be gone (reaped or killed).
func allGone(pids []int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		alive := 0
		for _, p := range pids {
			if syscall.Kill(p, 0) == nil && !isZombie(p) {
				alive++
			}
		}
		if alive == 0 {
			return true
		}
	}
	return false
}

// isZombie: a killed child of a killed parent waits for init to reap it; it runs no more.
func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
