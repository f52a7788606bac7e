package kubernetes

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The parts of the pod API the shipper reads (core/v1 Pod, PodList,
// watch events and Status); every other field is ignored.
type objectMeta struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace"`
	UID             string            `json:"uid"`
	ResourceVersion string            `json:"resourceVersion"`
	Labels          map[string]string `json:"labels"`
	Annotations     map[string]string `json:"annotations"`
}

// Pod is the metadata of a pod.
type Pod struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
}

// PodList is the answer to a list.
type PodList struct {
	Kind     string `json:"kind"`
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
		Continue        string `json:"continue"`
	} `json:"metadata"`
	Items []Pod `json:"items"`
}

// Status is the API's error object (also the object of an ERROR event).
type Status struct {
	Kind    string `json:"kind"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Code    int    `json:"code"`
}

// Event is one watch event.
type Event struct {
	Type   string // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
	Pod    Pod
	Status Status // ERROR only
}

// DecodeList decodes a PodList.
func DecodeList(b []byte) (PodList, error) {
	var l PodList
	if err := json.Unmarshal(b, &l); err != nil {
		return PodList{}, fmt.Errorf("decoding pod list: %w", err)
	}
	if l.Kind != "PodList" {
		return PodList{}, fmt.Errorf("decoding pod list: kind %q, want PodList", l.Kind)
	}
	if l.Metadata.ResourceVersion == "" {
		return PodList{}, errors.New("decoding pod list: no resourceVersion")
	}
	return l, nil
}

// DecodeEvent decodes one line of a watch.
func DecodeEvent(b []byte) (Event, error) {
	var raw struct {
		Type   string          `json:"type"`
		Object json.RawMessage `json:"object"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Event{}, fmt.Errorf("decoding watch event: %w", err)
	}
	ev := Event{Type: raw.Type}
	switch raw.Type {
	case "ADDED", "MODIFIED", "DELETED", "BOOKMARK":
		if err := json.Unmarshal(raw.Object, &ev.Pod); err != nil {
			return Event{}, fmt.Errorf("decoding watch event %s: %w", raw.Type, err)
		}
		if ev.Pod.Metadata.ResourceVersion == "" {
			return Event{}, fmt.Errorf("decoding watch event %s: no resourceVersion", raw.Type)
		}
	case "ERROR":
		if err := json.Unmarshal(raw.Object, &ev.Status); err != nil {
			return Event{}, fmt.Errorf("decoding watch event ERROR: %w", err)
		}
	default:
		return Event{}, fmt.Errorf("decoding watch event: type %q", raw.Type)
	}
	return ev, nil
}

// DecodeStatus decodes a Status answer.
func DecodeStatus(b []byte, st *Status) error {
	if err := json.Unmarshal(b, st); err != nil {
		return fmt.Errorf("decoding status: %w", err)
	}
	return nil
}
