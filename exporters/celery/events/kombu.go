package events

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// RedisChannel is the pub/sub channel kombu publishes an event on:
// <global_keyprefix>/<db>.<exchange>/<routing_key>.
func RedisChannel(keyPrefix string, db int, exchange, routingKey string) string {
	return fmt.Sprintf("%s/%d.%s/%s", keyPrefix, db, exchange, routingKey)
}

// RoutingKey is the routing key Celery uses for an event type
// ("task-succeeded" -> "task.succeeded").
func RoutingKey(eventType string) string { return strings.ReplaceAll(eventType, "-", ".") }

// EncodeRedis builds the message kombu's Redis transport publishes for an
// event body (a JSON object, or an array for task.multi), as a worker would.
func EncodeRedis(exchange, routingKey, hostname string, body []byte) ([]byte, error) {
	env := map[string]any{
		"body":             base64.StdEncoding.EncodeToString(body),
		"content-encoding": "utf-8",
		"content-type":     "application/json",
		"headers":          map[string]any{"hostname": hostname},
		"properties": map[string]any{
			"delivery_mode": 1,
			"delivery_info": map[string]any{"exchange": exchange, "routing_key": routingKey},
			"priority":      0,
			"body_encoding": "base64",
			"delivery_tag":  "00000000-0000-4000-8000-000000000000",
		},
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encoding envelope: %w", err)
	}
	return b, nil
}
