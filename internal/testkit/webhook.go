package testkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Notification is one POST of Alertmanager's webhook receiver (payload
// version 4), with the path it was posted to and when it arrived.
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"` // firing or resolved
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []NotifiedAlert   `json:"alerts"`

	Path     string    `json:"-"`
	Received time.Time `json:"-"`
}

// NotifiedAlert is one alert of a Notification.
type NotifiedAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// WebhookSink is an HTTP listener on loopback that takes Alertmanager's
// webhook POSTs, as strictly as the payload is documented: a body that is
// not exactly that JSON fails the test.
type WebhookSink struct {
	URL string

	mu       sync.Mutex
	got      []Notification
	onNotify func(Notification)
	srv      *http.Server
	done     chan struct{}
}

// maxNotificationBytes bounds one POST (Alertmanager sends a group at once).
const maxNotificationBytes = 4 << 20

// StartWebhookSink listens on a free loopback port until cleanup. onNotify,
// when set, is called with each notification as it arrives.
func StartWebhookSink(t TB, onNotify func(Notification)) *WebhookSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("webhook sink: %v", err)
	}
	s := &WebhookSink{URL: "http://" + l.Addr().String(), onNotify: onNotify, done: make(chan struct{})}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := decodeNotification(r)
		if err != nil {
			t.Errorf("webhook sink: %s %s: %v", r.Method, r.URL.Path, err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.got = append(s.got, n)
		s.mu.Unlock()
		if s.onNotify != nil {
			s.onNotify(n)
		}
		w.WriteHeader(http.StatusOK)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("webhook sink: %v", err)
		}
	}()
	t.Cleanup(func() {
		s.srv.Close()
		<-s.done
	})
	return s
}

func decodeNotification(r *http.Request) (Notification, error) {
	var n Notification
	if r.Method != http.MethodPost {
		return n, fmt.Errorf("method %s, want POST", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return n, fmt.Errorf("content type %q, want application/json", ct)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxNotificationBytes+1))
	if err != nil {
		return n, fmt.Errorf("reading the body: %w", err)
	}
	if len(body) > maxNotificationBytes {
		return n, fmt.Errorf("body larger than %d bytes", maxNotificationBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		return n, fmt.Errorf("decoding %s: %w", body, err)
	}
	if n.Version != "4" || (n.Status != "firing" && n.Status != "resolved") || n.Receiver == "" || len(n.Alerts) == 0 {
		return n, fmt.Errorf("not a version 4 notification: %s", body)
	}
	n.Path, n.Received = r.URL.Path, time.Now()
	return n, nil
}

// Notifications returns every notification received so far, in order.
func (s *WebhookSink) Notifications() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.got...)
}
