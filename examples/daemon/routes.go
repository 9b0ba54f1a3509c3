package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"
)

// routes is the API:
//
//	GET  /                 a greeting
//	GET  /kv/{key}         the value stored under key
//	PUT  /kv/{key}         store the request body under key
//	POST /jobs?key=&value= queue a job that stores value under key; 202, or
//	                       with &wait, 200 once a worker has done it
func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "arbor example daemon")
	})
	mux.HandleFunc("GET /kv/{key}", a.getKey)
	mux.HandleFunc("PUT /kv/{key}", a.putKey)
	mux.HandleFunc("POST /jobs", a.postJob)
	return mux
}

func (a *App) getKey(w http.ResponseWriter, r *http.Request) {
	v, ok, err := a.store.Get(r.Context(), r.PathValue("key"))
	switch {
	case err != nil:
		a.unavailable(w, err)
	case !ok:
		http.NotFound(w, r)
	default:
		fmt.Fprintln(w, v)
	}
}

func (a *App) putKey(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := a.store.Put(r.Context(), r.PathValue("key"), string(body)); err != nil {
		a.unavailable(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *App) postJob(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := q.Get("key")
	if key == "" {
		http.Error(w, "key is required", http.StatusBadRequest)
		return
	}
	done, err := a.queue.Enqueue(key, q.Get("value"))
	if err != nil {
		a.unavailable(w, err)
		return
	}
	if !q.Has("wait") {
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "queued")
		return
	}
	select {
	case err := <-done:
		if err != nil {
			a.unavailable(w, err)
			return
		}
		fmt.Fprintln(w, "done")
	case <-r.Context().Done(): // the client went away; the job still runs
	}
}

// unavailable answers 503 for a store or queue that cannot serve now, which
// a client may retry, and 500 for anything else.
func (a *App) unavailable(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, errStoreClosed) || errors.Is(err, errQueueClosed) || errors.Is(err, errQueueFull) {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	a.log.Warn("request failed", zap.Error(err), zap.Int("status", code))
	http.Error(w, err.Error(), code)
}
