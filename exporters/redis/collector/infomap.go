package collector

import "strings"

// field says how one INFO field becomes a metric: under the incumbent's name
// (oliver006/redis_exporter) where it has one, so its dashboards keep working.
type field struct {
	name    string  // without the redis_ prefix
	counter bool    // counter rather than gauge
	scale   float64 // multiplier (0 means 1), e.g. 1e-6 for microseconds
}

// fields maps INFO keys to metrics. INFO fields not listed here and not
// handled elsewhere are still exported, as gauges named redis_<key>.
var fields = map[string]field{
	// Server
	"uptime_in_seconds":  {name: "uptime_in_seconds"},
	"process_id":         {name: "process_id"},
	"io_threads_active":  {name: "io_threads_active"},
	"server_time_usec":   {name: "server_time_seconds", scale: 1e-6},
	"hz":                 {name: "hz"},
	"configured_hz":      {name: "configured_hz"},
	"lru_clock":          {name: "lru_clock"},
	"arch_bits":          {name: ""},
	"uptime_in_days":     {name: ""}, // redundant with uptime_in_seconds
	"redis_git_dirty":    {name: ""},
	"tcp_port":           {name: ""}, // a label of redis_instance_info
	"process_supervised": {name: ""},

	// Clients
	"connected_clients":               {name: "connected_clients"},
	"cluster_connections":             {name: "cluster_connections"},
	"blocked_clients":                 {name: "blocked_clients"},
	"tracking_clients":                {name: "tracking_clients"},
	"clients_in_timeout_table":        {name: "clients_in_timeout_table"},
	"client_recent_max_input_buffer":  {name: "client_recent_max_input_buffer_bytes"},
	"client_recent_max_output_buffer": {name: "client_recent_max_output_buffer_bytes"},
	"pubsub_clients":                  {name: "pubsub_clients"},
	"watching_clients":                {name: "watching_clients"},
	"total_blocking_keys":             {name: "total_blocking_keys"},
	"maxclients":                      {name: "max_clients"},

	// Memory
	"used_memory":                   {name: "memory_used_bytes"},
	"used_memory_rss":               {name: "memory_used_rss_bytes"},
	"used_memory_peak":              {name: "memory_used_peak_bytes"},
	"used_memory_lua":               {name: "memory_used_lua_bytes"},
	"used_memory_vm_eval":           {name: "memory_used_vm_eval_bytes"},
	"used_memory_scripts_eval":      {name: "memory_used_scripts_eval_bytes"},
	"used_memory_overhead":          {name: "memory_used_overhead_bytes"},
	"used_memory_startup":           {name: "memory_used_startup_bytes"},
	"used_memory_dataset":           {name: "memory_used_dataset_bytes"},
	"used_memory_scripts":           {name: "memory_used_scripts_bytes"},
	"used_memory_functions":         {name: "memory_used_functions_bytes"},
	"used_memory_vm_functions":      {name: "memory_used_vm_functions_bytes"},
	"used_memory_vm_total":          {name: "memory_used_vm_total"}, // the incumbent's name, without a unit
	"maxmemory":                     {name: "memory_max_bytes"},
	"total_system_memory":           {name: "total_system_memory_bytes"},
	"mem_fragmentation_ratio":       {name: "mem_fragmentation_ratio"},
	"mem_fragmentation_bytes":       {name: "mem_fragmentation_bytes"},
	"mem_clients_slaves":            {name: "mem_clients_slaves"},
	"mem_clients_normal":            {name: "mem_clients_normal"},
	"mem_cluster_links":             {name: "mem_cluster_links_bytes"},
	"mem_aof_buffer":                {name: "mem_aof_buffer_bytes"},
	"mem_replication_backlog":       {name: "mem_replication_backlog_bytes"},
	"mem_total_replication_buffers": {name: "mem_total_replication_buffers_bytes"},
	"mem_not_counted_for_evict":     {name: "mem_not_counted_for_eviction_bytes"},
	"allocator_active":              {name: "allocator_active_bytes"},
	"allocator_allocated":           {name: "allocator_allocated_bytes"},
	"allocator_resident":            {name: "allocator_resident_bytes"},
	"allocator_frag_ratio":          {name: "allocator_frag_ratio"},
	"allocator_frag_bytes":          {name: "allocator_frag_bytes"},
	"allocator_rss_ratio":           {name: "allocator_rss_ratio"},
	"allocator_rss_bytes":           {name: "allocator_rss_bytes"},
	"rss_overhead_ratio":            {name: "rss_overhead_ratio"},
	"rss_overhead_bytes":            {name: "rss_overhead_bytes"},
	"lazyfree_pending_objects":      {name: "lazyfree_pending_objects"},
	"lazyfreed_objects":             {name: "lazyfreed_objects"},
	"active_defrag_running":         {name: "active_defrag_running"},
	"number_of_cached_scripts":      {name: "number_of_cached_scripts"},
	"number_of_functions":           {name: "number_of_functions"},
	"number_of_libraries":           {name: "number_of_libraries"},
	"used_memory_peak_perc":         {name: "memory_used_peak_ratio", scale: 0.01},
	"used_memory_dataset_perc":      {name: "memory_used_dataset_ratio", scale: 0.01},

	// Persistence
	"loading":                      {name: "loading_dump_file"},
	"async_loading":                {name: "async_loading"},
	"rdb_changes_since_last_save":  {name: "rdb_changes_since_last_save"},
	"rdb_bgsave_in_progress":       {name: "rdb_bgsave_in_progress"},
	"rdb_last_save_time":           {name: "rdb_last_save_timestamp_seconds"},
	"rdb_last_bgsave_status":       {name: "rdb_last_bgsave_status"},
	"rdb_last_bgsave_time_sec":     {name: "rdb_last_bgsave_duration_sec"},
	"rdb_current_bgsave_time_sec":  {name: "rdb_current_bgsave_duration_sec"},
	"rdb_saves":                    {name: "rdb_saves_total"}, // a gauge there
	"rdb_last_cow_size":            {name: "rdb_last_cow_size_bytes"},
	"rdb_last_load_keys_expired":   {name: "rdb_last_load_expired_keys"},
	"rdb_last_load_keys_loaded":    {name: "rdb_last_load_loaded_keys"},
	"aof_enabled":                  {name: "aof_enabled"},
	"aof_rewrite_in_progress":      {name: "aof_rewrite_in_progress"},
	"aof_rewrite_scheduled":        {name: "aof_rewrite_scheduled"},
	"aof_last_rewrite_time_sec":    {name: "aof_last_rewrite_duration_sec"},
	"aof_current_rewrite_time_sec": {name: "aof_current_rewrite_duration_sec"},
	"aof_last_cow_size":            {name: "aof_last_cow_size_bytes"},
	"aof_current_size":             {name: "aof_current_size_bytes"},
	"aof_base_size":                {name: "aof_base_size_bytes"},
	"aof_pending_rewrite":          {name: "aof_pending_rewrite"},
	"aof_buffer_length":            {name: "aof_buffer_length"},
	"aof_rewrite_buffer_length":    {name: "aof_rewrite_buffer_length"},
	"aof_pending_bio_fsync":        {name: "aof_pending_bio_fsync"},
	"aof_delayed_fsync":            {name: "aof_delayed_fsync"},
	"aof_last_bgrewrite_status":    {name: "aof_last_bgrewrite_status"},
	"aof_last_write_status":        {name: "aof_last_write_status"},
	"aof_rewrites":                 {name: "aof_rewrites_total", counter: true},
	"module_fork_in_progress":      {name: "module_fork_in_progress"},
	"module_fork_last_cow_size":    {name: "module_fork_last_cow_size"},
	"current_cow_size":             {name: "current_cow_size_bytes"},
	"current_cow_peak":             {name: "current_cow_peak_bytes"},
	"current_cow_size_age":         {name: "current_cow_size_age_seconds"},
	"current_fork_perc":            {name: "current_fork_ratio", scale: 0.01},
	"current_save_keys_total":      {name: "current_save_keys"},
	"current_save_keys_processed":  {name: "current_save_keys_processed"},

	// Stats
	"total_connections_received":     {name: "connections_received_total", counter: true},
	"total_commands_processed":       {name: "commands_processed_total", counter: true},
	"total_net_input_bytes":          {name: "net_input_bytes_total", counter: true},
	"total_net_output_bytes":         {name: "net_output_bytes_total", counter: true},
	"total_net_repl_input_bytes":     {name: "net_repl_input_bytes_total", counter: true},
	"total_net_repl_output_bytes":    {name: "net_repl_output_bytes_total", counter: true},
	"rejected_connections":           {name: "rejected_connections_total", counter: true},
	"expired_keys":                   {name: "expired_keys_total", counter: true},
	"evicted_keys":                   {name: "evicted_keys_total", counter: true},
	"evicted_clients":                {name: "evicted_clients_total", counter: true},
	"keyspace_hits":                  {name: "keyspace_hits_total", counter: true},
	"keyspace_misses":                {name: "keyspace_misses_total", counter: true},
	"total_forks":                    {name: "forks_total", counter: true},
	"total_error_replies":            {name: "total_error_replies", counter: true},
	"unexpected_error_replies":       {name: "unexpected_error_replies", counter: true},
	"dump_payload_sanitizations":     {name: "dump_payload_sanitizations", counter: true},
	"total_reads_processed":          {name: "total_reads_processed", counter: true},
	"total_writes_processed":         {name: "total_writes_processed", counter: true},
	"io_threaded_reads_processed":    {name: "io_threaded_reads_processed", counter: true},
	"io_threaded_writes_processed":   {name: "io_threaded_writes_processed", counter: true},
	"expire_cycle_cpu_milliseconds":  {name: "expire_cycle_cpu_time_ms_total", counter: true},
	"total_eviction_exceeded_time":   {name: "eviction_exceeded_time_ms_total", counter: true},
	"current_eviction_exceeded_time": {name: "current_eviction_exceeded_time_ms"},
	"total_active_defrag_time":       {name: "active_defrag_seconds_total", counter: true, scale: 1e-3},
	"current_active_defrag_time":     {name: "current_active_defrag_seconds", scale: 1e-3},
	"instantaneous_ops_per_sec":      {name: "instantaneous_ops"},
	"instantaneous_input_kbps":       {name: "instantaneous_input_kbps"},
	"instantaneous_output_kbps":      {name: "instantaneous_output_kbps"},
	"instantaneous_input_repl_kbps":  {name: "instantaneous_input_repl_kbps"},
	"instantaneous_output_repl_kbps": {name: "instantaneous_output_repl_kbps"},
	"pubsub_channels":                {name: "pubsub_channels"},
	"pubsub_patterns":                {name: "pubsub_patterns"},
	"pubsubshard_channels":           {name: "pubsubshard_channels"},
	"latest_fork_usec":               {name: "latest_fork_seconds", scale: 1e-6},
	"migrate_cached_sockets":         {name: "migrate_cached_sockets_total"},
	"expired_stale_perc":             {name: "expired_stale_percentage"},
	"expired_time_cap_reached_count": {name: "expired_time_cap_reached_total", counter: true},
	"slave_expires_tracked_keys":     {name: "slave_expires_tracked_keys"},
	"active_defrag_hits":             {name: "defrag_hits"},
	"active_defrag_misses":           {name: "defrag_misses"},
	"active_defrag_key_hits":         {name: "defrag_key_hits"},
	"active_defrag_key_misses":       {name: "defrag_key_misses"},
	"tracking_total_keys":            {name: "tracking_total_keys"},
	"tracking_total_items":           {name: "tracking_total_items"},
	"tracking_total_prefixes":        {name: "tracking_total_prefixes"},
	"sync_full":                      {name: "replica_resyncs_full"},
	"sync_partial_ok":                {name: "replica_partial_resync_accepted"},
	"sync_partial_err":               {name: "replica_partial_resync_denied"},
	"reply_buffer_shrinks":           {name: "reply_buffer_shrinks_total", counter: true},
	"reply_buffer_expands":           {name: "reply_buffer_expands_total", counter: true},

	// Replication
	"connected_slaves":               {name: "connected_slaves"},
	"repl_backlog_size":              {name: "replication_backlog_bytes"},
	"repl_backlog_active":            {name: "repl_backlog_is_active"},
	"repl_backlog_first_byte_offset": {name: "repl_backlog_first_byte_offset"},
	"repl_backlog_histlen":           {name: "repl_backlog_history_bytes"},
	"master_repl_offset":             {name: "master_repl_offset"},
	"second_repl_offset":             {name: "second_repl_offset"},
	"slave_repl_offset":              {name: "slave_repl_offset"},
	"slave_read_repl_offset":         {name: "slave_read_repl_offset"},
	"master_link_status":             {name: "master_link_up"},
	"master_last_io_seconds_ago":     {name: "master_last_io_seconds_ago"},
	"master_sync_in_progress":        {name: "master_sync_in_progress"},
	"master_link_down_since_seconds": {name: "master_link_down_since_seconds"},
	"slave_priority":                 {name: "slave_priority"},
	"replica_priority":               {name: "slave_priority"},
	"slave_read_only":                {name: "slave_read_only"},
	"replica_read_only":              {name: "slave_read_only"},
	"replica_announced":              {name: "replica_announced"},
	"master_port":                    {name: ""}, // a label of redis_slave_info
	"min_slaves_good_slaves":         {name: "min_slaves_good_slaves"},

	// CPU
	"used_cpu_sys":              {name: "cpu_sys_seconds_total", counter: true},
	"used_cpu_user":             {name: "cpu_user_seconds_total", counter: true},
	"used_cpu_sys_children":     {name: "cpu_sys_children_seconds_total", counter: true},
	"used_cpu_user_children":    {name: "cpu_user_children_seconds_total", counter: true},
	"used_cpu_sys_main_thread":  {name: "cpu_sys_main_thread_seconds_total", counter: true},
	"used_cpu_user_main_thread": {name: "cpu_user_main_thread_seconds_total", counter: true},

	// Fields of newer servers, under the incumbent's names and types.
	"total_watched_keys":                        {name: "total_watched_keys"},
	"total_blocking_keys_on_nokey":              {name: "total_blocking_keys_on_nokey"},
	"allocator_muzzy":                           {name: "allocator_muzzy_bytes"},
	"mem_overhead_db_hashtable_rehashing":       {name: "mem_overhead_db_hashtable_rehashing_bytes"},
	"instantaneous_eventloop_cycles_per_sec":    {name: "instantaneous_eventloop_cycles_per_sec"},
	"instantaneous_eventloop_duration_usec":     {name: "instantaneous_eventloop_duration_usec"},
	"expired_subkeys":                           {name: "expired_subkeys_total", counter: true},
	"evicted_scripts":                           {name: "evicted_scripts_total", counter: true},
	"eventloop_cycles":                          {name: "eventloop_cycles_total", counter: true},
	"eventloop_duration_sum":                    {name: "eventloop_duration_sum_usec_total", counter: true},
	"eventloop_duration_cmd_sum":                {name: "eventloop_duration_cmd_sum_usec_total", counter: true},
	"client_query_buffer_limit_disconnections":  {name: "client_query_buffer_limit_disconnections_total", counter: true},
	"client_output_buffer_limit_disconnections": {name: "client_output_buffer_limit_disconnections_total", counter: true},
	"acl_access_denied_auth":                    {name: "acl_access_denied_auth_total", counter: true},
	"acl_access_denied_cmd":                     {name: "acl_access_denied_cmd_total", counter: true},
	"acl_access_denied_key":                     {name: "acl_access_denied_key_total", counter: true},
	"acl_access_denied_channel":                 {name: "acl_access_denied_channel_total", counter: true},
	"used_active_time_main_thread":              {name: "active_time_main_thread_seconds_total", counter: true},

	// Cluster
	"cluster_enabled": {name: "cluster_enabled"},
}

// fallbackName is the metric name of an INFO field the table does not know:
// redis_<key> with characters Prometheus does not allow replaced.
func fallbackName(key string) string {
	var b strings.Builder
	for i, r := range strings.ToLower(key) {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9' && i > 0)
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
