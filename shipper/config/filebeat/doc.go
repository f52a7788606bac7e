// Package filebeat runs Filebeat configuration files as they are: it
// translates the parts that matter here (log, filestream and container
// inputs, their JSON, multiline, fields and tags, the processors add_fields,
// drop_fields, rename and drop_event with their conditions, and the
// elasticsearch, console and file outputs) into the shipper's own
// configuration, and lists every key it does not support, by path, so none
// is silently ignored.
package filebeat
