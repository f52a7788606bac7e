package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/outrigger/outrigger/exporters/celery/broker"
	"github.com/outrigger/outrigger/internal/testkit"
)

// The RabbitMQ management API's password comes from a file, never from the
// URL; it is neither logged nor echoed. A queue only the management API
// knows of (discovery) shows up with its unacked count. A wrong password and
// an oversized answer fail the poll with a clear reason.
func TestRabbitMQManagementPasswordFromFile(t *testing.T) {
	rmq := testkit.StartRabbitMQ(t, testkit.RabbitMQOptions{Management: true})
	conn, err := amqp.Dial(rmq.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("jobs", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	// A user of our own: the node's default one is guest:guest, whose
	// password any log line naming the user would contain.
	const user, secret = "exporter", "Mgmt-s3cret-9f"
	rmq.Ctl(t, "add_user", user, secret)
	rmq.Ctl(t, "set_permissions", "-p", "/", user, ".*", ".*", ".*")
	rmq.Ctl(t, "set_user_tags", user, "monitoring")
	dir := t.TempDir()
	pw, wrong := filepath.Join(dir, "pw"), filepath.Join(dir, "wrong")
	os.WriteFile(pw, []byte(secret+"\n"), 0o600)
	os.WriteFile(wrong, []byte("wrong-one\n"), 0o600)
	brokerURL := fmt.Sprintf("amqp://%s@%s//", user, rmq.Addr)
	mgmtURL := fmt.Sprintf("http://%s@%s:%d", user, rmq.Host, rmq.MgmtPort)
	args := func(mgmt, file string) []string {
		return []string{"--broker-url=" + brokerURL, "--broker.password-file=" + pw, "--queue.poll-interval=200ms",
			"--rabbitmq.management-url=" + mgmt, "--rabbitmq.management-password-file=" + file}
	}
	noSecret := func(t *testing.T, what, s string) {
		t.Helper()
		if strings.Contains(s, secret) || strings.Contains(s, "wrong-one") {
			t.Errorf("%s holds the password:\n%s", what, s)
		}
	}

	out, err := exec.Command(binary(t), append(args(mgmtURL, pw), "--config.check")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "management API "+mgmtURL) {
		t.Errorf("--config.check: %v\n%s", err, out)
	}
	noSecret(t, "--config.check", string(out))

	t.Run("password from file", func(t *testing.T) {
		d := startDaemon(t, nil, args(mgmtURL, pw)...)
		testkit.Eventually(t, 20*time.Second, "the discovered queue's unacked count", func() error {
			if _, ok := testkit.Value(testkit.Families(t, d.metrics(t)), "celery_queue_unacked_messages", map[string]string{"queue_name": "jobs"}); !ok {
				return fmt.Errorf("no celery_queue_unacked_messages{queue_name=\"jobs\"}")
			}
			return nil
		})
		if n := d.sum(t, "celery_exporter_queue_poll_errors_total"); n != 0 {
			t.Errorf("%v poll errors", n)
		}
		noSecret(t, "the log", d.proc.Log())
	})
	t.Run("wrong password", func(t *testing.T) {
		d := startDaemon(t, nil, args(mgmtURL, wrong)...)
		testkit.Eventually(t, 20*time.Second, "a failed poll", func() error {
			if d.sum(t, "celery_exporter_queue_poll_errors_total") == 0 || !strings.Contains(d.proc.Log(), "401") {
				return fmt.Errorf("no failed poll yet")
			}
			return nil
		})
		noSecret(t, "the log", d.proc.Log())
	})
	t.Run("oversized answer", func(t *testing.T) {
		// A management API answering more than the cap (RabbitMQ itself
		// would need some 300,000 queues): streamed, never buffered whole.
		big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			entry := `{"name":"q","messages_ready":0,"messages_unacknowledged":0,"consumers":0},`
			w.Write([]byte("["))
			for n := 0; n <= broker.MaxManagementBody/len(entry); n++ {
				if _, err := w.Write([]byte(entry)); err != nil {
					return
				}
			}
			w.Write([]byte(`{"name":"last"}]`))
		}))
		defer big.Close()
		d := startDaemon(t, nil, args(strings.Replace(big.URL, "http://", "http://"+user+"@", 1), pw)...)
		testkit.Eventually(t, 20*time.Second, "a poll refused for its size", func() error {
			if !strings.Contains(d.proc.Log(), "larger than") {
				return fmt.Errorf("no oversized poll logged yet")
			}
			return nil
		})
		noSecret(t, "the log", d.proc.Log())
	})
}
