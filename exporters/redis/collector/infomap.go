package collector

import (
	"strings"

	"github.com/outrigger/outrigger/internal/promkit"
)

// infoField says how one INFO field becomes a metric: under the incumbent's
// name (oliver006/redis_exporter) where it has one, so its dashboards keep
// working.
type infoField struct {
	key   string
	fam   promkit.Family
	scale float64 // multiplier (0 means 1), e.g. 1e-6 for microseconds
}

// Families two INFO keys share (the field was renamed in Redis 5).
var (
	slavePriority = promkit.Gauge("redis_slave_priority", "Redis INFO field slave_priority or replica_priority (replication).")
	slaveReadOnly = promkit.Gauge("redis_slave_read_only", "Redis INFO field slave_read_only or replica_read_only (replication).")
)

// infoFields maps INFO keys to families: every numeric field of the Redis
// the tests run (TestInfoTableComplete) and those of newer servers. A field
// of a server newer still, not listed here nor handled elsewhere, is
// exported as a gauge redis_<key> (fallbackFamily).
var infoFields = byKey([]infoField{
	// Server
	{key: "uptime_in_seconds", fam: promkit.Gauge("redis_uptime_in_seconds", "Redis INFO field uptime_in_seconds (server).")},
	{key: "process_id", fam: promkit.Gauge("redis_process_id", "Redis INFO field process_id (server).")},
	{key: "io_threads_active", fam: promkit.Gauge("redis_io_threads_active", "Redis INFO field io_threads_active (server).")},
	{key: "server_time_usec", fam: promkit.Gauge("redis_server_time_seconds", "Redis INFO field server_time_usec (server)."), scale: 1e-6},
	{key: "hz", fam: promkit.Gauge("redis_hz", "Redis INFO field hz (server).")},
	{key: "configured_hz", fam: promkit.Gauge("redis_configured_hz", "Redis INFO field configured_hz (server).")},
	{key: "lru_clock", fam: promkit.Gauge("redis_lru_clock", "Redis INFO field lru_clock (server).")},

	// Clients
	{key: "connected_clients", fam: promkit.Gauge("redis_connected_clients", "Redis INFO field connected_clients (clients).")},
	{key: "cluster_connections", fam: promkit.Gauge("redis_cluster_connections", "Redis INFO field cluster_connections (clients).")},
	{key: "blocked_clients", fam: promkit.Gauge("redis_blocked_clients", "Redis INFO field blocked_clients (clients).")},
	{key: "tracking_clients", fam: promkit.Gauge("redis_tracking_clients", "Redis INFO field tracking_clients (clients).")},
	{key: "clients_in_timeout_table", fam: promkit.Gauge("redis_clients_in_timeout_table", "Redis INFO field clients_in_timeout_table (clients).")},
	{key: "client_recent_max_input_buffer", fam: promkit.Gauge("redis_client_recent_max_input_buffer_bytes", "Redis INFO field client_recent_max_input_buffer (clients).")},
	{key: "client_recent_max_output_buffer", fam: promkit.Gauge("redis_client_recent_max_output_buffer_bytes", "Redis INFO field client_recent_max_output_buffer (clients).")},
	{key: "pubsub_clients", fam: promkit.Gauge("redis_pubsub_clients", "Redis INFO field pubsub_clients (clients).")},
	{key: "watching_clients", fam: promkit.Gauge("redis_watching_clients", "Redis INFO field watching_clients (clients).")},
	{key: "total_blocking_keys", fam: promkit.Gauge("redis_total_blocking_keys", "Redis INFO field total_blocking_keys (clients).")},
	{key: "maxclients", fam: promkit.Gauge("redis_max_clients", "Redis INFO field maxclients (clients).")},

	// Memory
	{key: "used_memory", fam: promkit.Gauge("redis_memory_used_bytes", "Redis INFO field used_memory (memory).")},
	{key: "used_memory_rss", fam: promkit.Gauge("redis_memory_used_rss_bytes", "Redis INFO field used_memory_rss (memory).")},
	{key: "used_memory_peak", fam: promkit.Gauge("redis_memory_used_peak_bytes", "Redis INFO field used_memory_peak (memory).")},
	{key: "used_memory_lua", fam: promkit.Gauge("redis_memory_used_lua_bytes", "Redis INFO field used_memory_lua (memory).")},
	{key: "used_memory_vm_eval", fam: promkit.Gauge("redis_memory_used_vm_eval_bytes", "Redis INFO field used_memory_vm_eval (memory).")},
	{key: "used_memory_scripts_eval", fam: promkit.Gauge("redis_memory_used_scripts_eval_bytes", "Redis INFO field used_memory_scripts_eval (memory).")},
	{key: "used_memory_overhead", fam: promkit.Gauge("redis_memory_used_overhead_bytes", "Redis INFO field used_memory_overhead (memory).")},
	{key: "used_memory_startup", fam: promkit.Gauge("redis_memory_used_startup_bytes", "Redis INFO field used_memory_startup (memory).")},
	{key: "used_memory_dataset", fam: promkit.Gauge("redis_memory_used_dataset_bytes", "Redis INFO field used_memory_dataset (memory).")},
	{key: "used_memory_scripts", fam: promkit.Gauge("redis_memory_used_scripts_bytes", "Redis INFO field used_memory_scripts (memory).")},
	{key: "used_memory_functions", fam: promkit.Gauge("redis_memory_used_functions_bytes", "Redis INFO field used_memory_functions (memory).")},
	{key: "used_memory_vm_functions", fam: promkit.Gauge("redis_memory_used_vm_functions_bytes", "Redis INFO field used_memory_vm_functions (memory).")},
	{key: "used_memory_vm_total", fam: promkit.Gauge("redis_memory_used_vm_total", "Redis INFO field used_memory_vm_total (memory).")}, // the incumbent's name, without a unit
	{key: "maxmemory", fam: promkit.Gauge("redis_memory_max_bytes", "Redis INFO field maxmemory (memory).")},
	{key: "total_system_memory", fam: promkit.Gauge("redis_total_system_memory_bytes", "Redis INFO field total_system_memory (memory).")},
	{key: "mem_fragmentation_ratio", fam: promkit.Gauge("redis_mem_fragmentation_ratio", "Redis INFO field mem_fragmentation_ratio (memory).")},
	{key: "mem_fragmentation_bytes", fam: promkit.Gauge("redis_mem_fragmentation_bytes", "Redis INFO field mem_fragmentation_bytes (memory).")},
	{key: "mem_clients_slaves", fam: promkit.Gauge("redis_mem_clients_slaves", "Redis INFO field mem_clients_slaves (memory).")},
	{key: "mem_clients_normal", fam: promkit.Gauge("redis_mem_clients_normal", "Redis INFO field mem_clients_normal (memory).")},
	{key: "mem_cluster_links", fam: promkit.Gauge("redis_mem_cluster_links_bytes", "Redis INFO field mem_cluster_links (memory).")},
	{key: "mem_aof_buffer", fam: promkit.Gauge("redis_mem_aof_buffer_bytes", "Redis INFO field mem_aof_buffer (memory).")},
	{key: "mem_replication_backlog", fam: promkit.Gauge("redis_mem_replication_backlog_bytes", "Redis INFO field mem_replication_backlog (memory).")},
	{key: "mem_total_replication_buffers", fam: promkit.Gauge("redis_mem_total_replication_buffers_bytes", "Redis INFO field mem_total_replication_buffers (memory).")},
	{key: "mem_not_counted_for_evict", fam: promkit.Gauge("redis_mem_not_counted_for_eviction_bytes", "Redis INFO field mem_not_counted_for_evict (memory).")},
	{key: "allocator_active", fam: promkit.Gauge("redis_allocator_active_bytes", "Redis INFO field allocator_active (memory).")},
	{key: "allocator_allocated", fam: promkit.Gauge("redis_allocator_allocated_bytes", "Redis INFO field allocator_allocated (memory).")},
	{key: "allocator_resident", fam: promkit.Gauge("redis_allocator_resident_bytes", "Redis INFO field allocator_resident (memory).")},
	{key: "allocator_frag_ratio", fam: promkit.Gauge("redis_allocator_frag_ratio", "Redis INFO field allocator_frag_ratio (memory).")},
	{key: "allocator_frag_bytes", fam: promkit.Gauge("redis_allocator_frag_bytes", "Redis INFO field allocator_frag_bytes (memory).")},
	{key: "allocator_rss_ratio", fam: promkit.Gauge("redis_allocator_rss_ratio", "Redis INFO field allocator_rss_ratio (memory).")},
	{key: "allocator_rss_bytes", fam: promkit.Gauge("redis_allocator_rss_bytes", "Redis INFO field allocator_rss_bytes (memory).")},
	{key: "rss_overhead_ratio", fam: promkit.Gauge("redis_rss_overhead_ratio", "Redis INFO field rss_overhead_ratio (memory).")},
	{key: "rss_overhead_bytes", fam: promkit.Gauge("redis_rss_overhead_bytes", "Redis INFO field rss_overhead_bytes (memory).")},
	{key: "lazyfree_pending_objects", fam: promkit.Gauge("redis_lazyfree_pending_objects", "Redis INFO field lazyfree_pending_objects (memory).")},
	{key: "lazyfreed_objects", fam: promkit.Gauge("redis_lazyfreed_objects", "Redis INFO field lazyfreed_objects (memory).")},
	{key: "active_defrag_running", fam: promkit.Gauge("redis_active_defrag_running", "Redis INFO field active_defrag_running (memory).")},
	{key: "number_of_cached_scripts", fam: promkit.Gauge("redis_number_of_cached_scripts", "Redis INFO field number_of_cached_scripts (memory).")},
	{key: "number_of_functions", fam: promkit.Gauge("redis_number_of_functions", "Redis INFO field number_of_functions (memory).")},
	{key: "number_of_libraries", fam: promkit.Gauge("redis_number_of_libraries", "Redis INFO field number_of_libraries (memory).")},
	{key: "used_memory_peak_perc", fam: promkit.Gauge("redis_memory_used_peak_ratio", "Redis INFO field used_memory_peak_perc (memory)."), scale: 0.01},
	{key: "used_memory_dataset_perc", fam: promkit.Gauge("redis_memory_used_dataset_ratio", "Redis INFO field used_memory_dataset_perc (memory)."), scale: 0.01},

	// Persistence
	{key: "loading", fam: promkit.Gauge("redis_loading_dump_file", "Redis INFO field loading (persistence).")},
	{key: "async_loading", fam: promkit.Gauge("redis_async_loading", "Redis INFO field async_loading (persistence).")},
	{key: "rdb_changes_since_last_save", fam: promkit.Gauge("redis_rdb_changes_since_last_save", "Redis INFO field rdb_changes_since_last_save (persistence).")},
	{key: "rdb_bgsave_in_progress", fam: promkit.Gauge("redis_rdb_bgsave_in_progress", "Redis INFO field rdb_bgsave_in_progress (persistence).")},
	{key: "rdb_last_save_time", fam: promkit.Gauge("redis_rdb_last_save_timestamp_seconds", "Redis INFO field rdb_last_save_time (persistence).")},
	{key: "rdb_last_bgsave_status", fam: promkit.Gauge("redis_rdb_last_bgsave_status", "Redis INFO field rdb_last_bgsave_status (persistence).")},
	{key: "rdb_last_bgsave_time_sec", fam: promkit.Gauge("redis_rdb_last_bgsave_duration_sec", "Redis INFO field rdb_last_bgsave_time_sec (persistence).")},
	{key: "rdb_current_bgsave_time_sec", fam: promkit.Gauge("redis_rdb_current_bgsave_duration_sec", "Redis INFO field rdb_current_bgsave_time_sec (persistence).")},
	{key: "rdb_saves", fam: promkit.Gauge("redis_rdb_saves_total", "Redis INFO field rdb_saves (persistence).")}, // a gauge there
	{key: "rdb_last_cow_size", fam: promkit.Gauge("redis_rdb_last_cow_size_bytes", "Redis INFO field rdb_last_cow_size (persistence).")},
	{key: "rdb_last_load_keys_expired", fam: promkit.Gauge("redis_rdb_last_load_expired_keys", "Redis INFO field rdb_last_load_keys_expired (persistence).")},
	{key: "rdb_last_load_keys_loaded", fam: promkit.Gauge("redis_rdb_last_load_loaded_keys", "Redis INFO field rdb_last_load_keys_loaded (persistence).")},
	{key: "aof_enabled", fam: promkit.Gauge("redis_aof_enabled", "Redis INFO field aof_enabled (persistence).")},
	{key: "aof_rewrite_in_progress", fam: promkit.Gauge("redis_aof_rewrite_in_progress", "Redis INFO field aof_rewrite_in_progress (persistence).")},
	{key: "aof_rewrite_scheduled", fam: promkit.Gauge("redis_aof_rewrite_scheduled", "Redis INFO field aof_rewrite_scheduled (persistence).")},
	{key: "aof_last_rewrite_time_sec", fam: promkit.Gauge("redis_aof_last_rewrite_duration_sec", "Redis INFO field aof_last_rewrite_time_sec (persistence).")},
	{key: "aof_current_rewrite_time_sec", fam: promkit.Gauge("redis_aof_current_rewrite_duration_sec", "Redis INFO field aof_current_rewrite_time_sec (persistence).")},
	{key: "aof_last_cow_size", fam: promkit.Gauge("redis_aof_last_cow_size_bytes", "Redis INFO field aof_last_cow_size (persistence).")},
	{key: "aof_current_size", fam: promkit.Gauge("redis_aof_current_size_bytes", "Redis INFO field aof_current_size (persistence).")},
	{key: "aof_base_size", fam: promkit.Gauge("redis_aof_base_size_bytes", "Redis INFO field aof_base_size (persistence).")},
	{key: "aof_pending_rewrite", fam: promkit.Gauge("redis_aof_pending_rewrite", "Redis INFO field aof_pending_rewrite (persistence).")},
	{key: "aof_buffer_length", fam: promkit.Gauge("redis_aof_buffer_length", "Redis INFO field aof_buffer_length (persistence).")},
	{key: "aof_rewrite_buffer_length", fam: promkit.Gauge("redis_aof_rewrite_buffer_length", "Redis INFO field aof_rewrite_buffer_length (persistence).")},
	{key: "aof_pending_bio_fsync", fam: promkit.Gauge("redis_aof_pending_bio_fsync", "Redis INFO field aof_pending_bio_fsync (persistence).")},
	{key: "aof_delayed_fsync", fam: promkit.Gauge("redis_aof_delayed_fsync", "Redis INFO field aof_delayed_fsync (persistence).")},
	{key: "aof_last_bgrewrite_status", fam: promkit.Gauge("redis_aof_last_bgrewrite_status", "Redis INFO field aof_last_bgrewrite_status (persistence).")},
	{key: "aof_last_write_status", fam: promkit.Gauge("redis_aof_last_write_status", "Redis INFO field aof_last_write_status (persistence).")},
	{key: "aof_rewrites_consecutive_failures", fam: promkit.Gauge("redis_aof_rewrites_consecutive_failures", "Redis INFO field aof_rewrites_consecutive_failures (persistence).")},
	{key: "aof_rewrites", fam: promkit.Counter("redis_aof_rewrites_total", "Redis INFO field aof_rewrites (persistence).")},
	{key: "module_fork_in_progress", fam: promkit.Gauge("redis_module_fork_in_progress", "Redis INFO field module_fork_in_progress (persistence).")},
	{key: "module_fork_last_cow_size", fam: promkit.Gauge("redis_module_fork_last_cow_size", "Redis INFO field module_fork_last_cow_size (persistence).")},
	{key: "current_cow_size", fam: promkit.Gauge("redis_current_cow_size_bytes", "Redis INFO field current_cow_size (persistence).")},
	{key: "current_cow_peak", fam: promkit.Gauge("redis_current_cow_peak_bytes", "Redis INFO field current_cow_peak (persistence).")},
	{key: "current_cow_size_age", fam: promkit.Gauge("redis_current_cow_size_age_seconds", "Redis INFO field current_cow_size_age (persistence).")},
	{key: "current_fork_perc", fam: promkit.Gauge("redis_current_fork_ratio", "Redis INFO field current_fork_perc (persistence)."), scale: 0.01},
	{key: "current_save_keys_total", fam: promkit.Gauge("redis_current_save_keys", "Redis INFO field current_save_keys_total (persistence).")},
	{key: "current_save_keys_processed", fam: promkit.Gauge("redis_current_save_keys_processed", "Redis INFO field current_save_keys_processed (persistence).")},

	// Stats
	{key: "total_connections_received", fam: promkit.Counter("redis_connections_received_total", "Redis INFO field total_connections_received (stats).")},
	{key: "total_commands_processed", fam: promkit.Counter("redis_commands_processed_total", "Redis INFO field total_commands_processed (stats).")},
	{key: "total_net_input_bytes", fam: promkit.Counter("redis_net_input_bytes_total", "Redis INFO field total_net_input_bytes (stats).")},
	{key: "total_net_output_bytes", fam: promkit.Counter("redis_net_output_bytes_total", "Redis INFO field total_net_output_bytes (stats).")},
	{key: "total_net_repl_input_bytes", fam: promkit.Counter("redis_net_repl_input_bytes_total", "Redis INFO field total_net_repl_input_bytes (stats).")},
	{key: "total_net_repl_output_bytes", fam: promkit.Counter("redis_net_repl_output_bytes_total", "Redis INFO field total_net_repl_output_bytes (stats).")},
	{key: "rejected_connections", fam: promkit.Counter("redis_rejected_connections_total", "Redis INFO field rejected_connections (stats).")},
	{key: "expired_keys", fam: promkit.Counter("redis_expired_keys_total", "Redis INFO field expired_keys (stats).")},
	{key: "evicted_keys", fam: promkit.Counter("redis_evicted_keys_total", "Redis INFO field evicted_keys (stats).")},
	{key: "evicted_clients", fam: promkit.Counter("redis_evicted_clients_total", "Redis INFO field evicted_clients (stats).")},
	{key: "keyspace_hits", fam: promkit.Counter("redis_keyspace_hits_total", "Redis INFO field keyspace_hits (stats).")},
	{key: "keyspace_misses", fam: promkit.Counter("redis_keyspace_misses_total", "Redis INFO field keyspace_misses (stats).")},
	{key: "total_forks", fam: promkit.Counter("redis_forks_total", "Redis INFO field total_forks (stats).")},
	{key: "total_error_replies", fam: promkit.Counter("redis_total_error_replies", "Redis INFO field total_error_replies (stats).")},
	{key: "unexpected_error_replies", fam: promkit.Counter("redis_unexpected_error_replies", "Redis INFO field unexpected_error_replies (stats).")},
	{key: "dump_payload_sanitizations", fam: promkit.Counter("redis_dump_payload_sanitizations", "Redis INFO field dump_payload_sanitizations (stats).")},
	{key: "total_reads_processed", fam: promkit.Counter("redis_total_reads_processed", "Redis INFO field total_reads_processed (stats).")},
	{key: "total_writes_processed", fam: promkit.Counter("redis_total_writes_processed", "Redis INFO field total_writes_processed (stats).")},
	{key: "io_threaded_reads_processed", fam: promkit.Counter("redis_io_threaded_reads_processed", "Redis INFO field io_threaded_reads_processed (stats).")},
	{key: "io_threaded_writes_processed", fam: promkit.Counter("redis_io_threaded_writes_processed", "Redis INFO field io_threaded_writes_processed (stats).")},
	{key: "expire_cycle_cpu_milliseconds", fam: promkit.Counter("redis_expire_cycle_cpu_time_ms_total", "Redis INFO field expire_cycle_cpu_milliseconds (stats).")},
	{key: "total_eviction_exceeded_time", fam: promkit.Counter("redis_eviction_exceeded_time_ms_total", "Redis INFO field total_eviction_exceeded_time (stats).")},
	{key: "current_eviction_exceeded_time", fam: promkit.Gauge("redis_current_eviction_exceeded_time_ms", "Redis INFO field current_eviction_exceeded_time (stats).")},
	{key: "total_active_defrag_time", fam: promkit.Counter("redis_active_defrag_seconds_total", "Redis INFO field total_active_defrag_time (stats)."), scale: 1e-3},
	{key: "current_active_defrag_time", fam: promkit.Gauge("redis_current_active_defrag_seconds", "Redis INFO field current_active_defrag_time (stats)."), scale: 1e-3},
	{key: "instantaneous_ops_per_sec", fam: promkit.Gauge("redis_instantaneous_ops", "Redis INFO field instantaneous_ops_per_sec (stats).")},
	{key: "instantaneous_input_kbps", fam: promkit.Gauge("redis_instantaneous_input_kbps", "Redis INFO field instantaneous_input_kbps (stats).")},
	{key: "instantaneous_output_kbps", fam: promkit.Gauge("redis_instantaneous_output_kbps", "Redis INFO field instantaneous_output_kbps (stats).")},
	{key: "instantaneous_input_repl_kbps", fam: promkit.Gauge("redis_instantaneous_input_repl_kbps", "Redis INFO field instantaneous_input_repl_kbps (stats).")},
	{key: "instantaneous_output_repl_kbps", fam: promkit.Gauge("redis_instantaneous_output_repl_kbps", "Redis INFO field instantaneous_output_repl_kbps (stats).")},
	{key: "pubsub_channels", fam: promkit.Gauge("redis_pubsub_channels", "Redis INFO field pubsub_channels (stats).")},
	{key: "pubsub_patterns", fam: promkit.Gauge("redis_pubsub_patterns", "Redis INFO field pubsub_patterns (stats).")},
	{key: "pubsubshard_channels", fam: promkit.Gauge("redis_pubsubshard_channels", "Redis INFO field pubsubshard_channels (stats).")},
	{key: "latest_fork_usec", fam: promkit.Gauge("redis_latest_fork_seconds", "Redis INFO field latest_fork_usec (stats)."), scale: 1e-6},
	{key: "migrate_cached_sockets", fam: promkit.Gauge("redis_migrate_cached_sockets_total", "Redis INFO field migrate_cached_sockets (stats).")},
	{key: "expired_stale_perc", fam: promkit.Gauge("redis_expired_stale_percentage", "Redis INFO field expired_stale_perc (stats).")},
	{key: "expired_time_cap_reached_count", fam: promkit.Counter("redis_expired_time_cap_reached_total", "Redis INFO field expired_time_cap_reached_count (stats).")},
	{key: "slave_expires_tracked_keys", fam: promkit.Gauge("redis_slave_expires_tracked_keys", "Redis INFO field slave_expires_tracked_keys (stats).")},
	{key: "active_defrag_hits", fam: promkit.Gauge("redis_defrag_hits", "Redis INFO field active_defrag_hits (stats).")},
	{key: "active_defrag_misses", fam: promkit.Gauge("redis_defrag_misses", "Redis INFO field active_defrag_misses (stats).")},
	{key: "active_defrag_key_hits", fam: promkit.Gauge("redis_defrag_key_hits", "Redis INFO field active_defrag_key_hits (stats).")},
	{key: "active_defrag_key_misses", fam: promkit.Gauge("redis_defrag_key_misses", "Redis INFO field active_defrag_key_misses (stats).")},
	{key: "tracking_total_keys", fam: promkit.Gauge("redis_tracking_total_keys", "Redis INFO field tracking_total_keys (stats).")},
	{key: "tracking_total_items", fam: promkit.Gauge("redis_tracking_total_items", "Redis INFO field tracking_total_items (stats).")},
	{key: "tracking_total_prefixes", fam: promkit.Gauge("redis_tracking_total_prefixes", "Redis INFO field tracking_total_prefixes (stats).")},
	{key: "sync_full", fam: promkit.Gauge("redis_replica_resyncs_full", "Redis INFO field sync_full (stats).")},
	{key: "sync_partial_ok", fam: promkit.Gauge("redis_replica_partial_resync_accepted", "Redis INFO field sync_partial_ok (stats).")},
	{key: "sync_partial_err", fam: promkit.Gauge("redis_replica_partial_resync_denied", "Redis INFO field sync_partial_err (stats).")},
	{key: "reply_buffer_shrinks", fam: promkit.Counter("redis_reply_buffer_shrinks_total", "Redis INFO field reply_buffer_shrinks (stats).")},
	{key: "reply_buffer_expands", fam: promkit.Counter("redis_reply_buffer_expands_total", "Redis INFO field reply_buffer_expands (stats).")},

	// Replication
	{key: "connected_slaves", fam: promkit.Gauge("redis_connected_slaves", "Redis INFO field connected_slaves (replication).")},
	{key: "repl_backlog_size", fam: promkit.Gauge("redis_replication_backlog_bytes", "Redis INFO field repl_backlog_size (replication).")},
	{key: "repl_backlog_active", fam: promkit.Gauge("redis_repl_backlog_is_active", "Redis INFO field repl_backlog_active (replication).")},
	{key: "repl_backlog_first_byte_offset", fam: promkit.Gauge("redis_repl_backlog_first_byte_offset", "Redis INFO field repl_backlog_first_byte_offset (replication).")},
	{key: "repl_backlog_histlen", fam: promkit.Gauge("redis_repl_backlog_history_bytes", "Redis INFO field repl_backlog_histlen (replication).")},
	{key: "master_repl_offset", fam: promkit.Gauge("redis_master_repl_offset", "Redis INFO field master_repl_offset (replication).")},
	{key: "second_repl_offset", fam: promkit.Gauge("redis_second_repl_offset", "Redis INFO field second_repl_offset (replication).")},
	{key: "slave_read_repl_offset", fam: promkit.Gauge("redis_slave_read_repl_offset", "Redis INFO field slave_read_repl_offset (replication).")},
	{key: "master_link_down_since_seconds", fam: promkit.Gauge("redis_master_link_down_since_seconds", "Redis INFO field master_link_down_since_seconds (replication).")},
	{key: "slave_priority", fam: slavePriority},
	{key: "replica_priority", fam: slavePriority},
	{key: "slave_read_only", fam: slaveReadOnly},
	{key: "replica_read_only", fam: slaveReadOnly},
	{key: "replica_announced", fam: promkit.Gauge("redis_replica_announced", "Redis INFO field replica_announced (replication).")},
	{key: "min_slaves_good_slaves", fam: promkit.Gauge("redis_min_slaves_good_slaves", "Redis INFO field min_slaves_good_slaves (replication).")},

	// CPU
	{key: "used_cpu_sys", fam: promkit.Counter("redis_cpu_sys_seconds_total", "Redis INFO field used_cpu_sys (cpu).")},
	{key: "used_cpu_user", fam: promkit.Counter("redis_cpu_user_seconds_total", "Redis INFO field used_cpu_user (cpu).")},
	{key: "used_cpu_sys_children", fam: promkit.Counter("redis_cpu_sys_children_seconds_total", "Redis INFO field used_cpu_sys_children (cpu).")},
	{key: "used_cpu_user_children", fam: promkit.Counter("redis_cpu_user_children_seconds_total", "Redis INFO field used_cpu_user_children (cpu).")},
	{key: "used_cpu_sys_main_thread", fam: promkit.Counter("redis_cpu_sys_main_thread_seconds_total", "Redis INFO field used_cpu_sys_main_thread (cpu).")},
	{key: "used_cpu_user_main_thread", fam: promkit.Counter("redis_cpu_user_main_thread_seconds_total", "Redis INFO field used_cpu_user_main_thread (cpu).")},

	// Fields of newer servers, under the incumbent's names and types.
	{key: "total_watched_keys", fam: promkit.Gauge("redis_total_watched_keys", "Redis INFO field total_watched_keys (clients).")},
	{key: "total_blocking_keys_on_nokey", fam: promkit.Gauge("redis_total_blocking_keys_on_nokey", "Redis INFO field total_blocking_keys_on_nokey (clients).")},
	{key: "allocator_muzzy", fam: promkit.Gauge("redis_allocator_muzzy_bytes", "Redis INFO field allocator_muzzy (memory).")},
	{key: "mem_overhead_db_hashtable_rehashing", fam: promkit.Gauge("redis_mem_overhead_db_hashtable_rehashing_bytes", "Redis INFO field mem_overhead_db_hashtable_rehashing (memory).")},
	{key: "instantaneous_eventloop_cycles_per_sec", fam: promkit.Gauge("redis_instantaneous_eventloop_cycles_per_sec", "Redis INFO field instantaneous_eventloop_cycles_per_sec (stats).")},
	{key: "instantaneous_eventloop_duration_usec", fam: promkit.Gauge("redis_instantaneous_eventloop_duration_usec", "Redis INFO field instantaneous_eventloop_duration_usec (stats).")},
	{key: "expired_subkeys", fam: promkit.Counter("redis_expired_subkeys_total", "Redis INFO field expired_subkeys (stats).")},
	{key: "evicted_scripts", fam: promkit.Counter("redis_evicted_scripts_total", "Redis INFO field evicted_scripts (stats).")},
	{key: "eventloop_cycles", fam: promkit.Counter("redis_eventloop_cycles_total", "Redis INFO field eventloop_cycles (stats).")},
	{key: "eventloop_duration_sum", fam: promkit.Counter("redis_eventloop_duration_sum_usec_total", "Redis INFO field eventloop_duration_sum (stats).")},
	{key: "eventloop_duration_cmd_sum", fam: promkit.Counter("redis_eventloop_duration_cmd_sum_usec_total", "Redis INFO field eventloop_duration_cmd_sum (stats).")},
	{key: "client_query_buffer_limit_disconnections", fam: promkit.Counter("redis_client_query_buffer_limit_disconnections_total", "Redis INFO field client_query_buffer_limit_disconnections (stats).")},
	{key: "client_output_buffer_limit_disconnections", fam: promkit.Counter("redis_client_output_buffer_limit_disconnections_total", "Redis INFO field client_output_buffer_limit_disconnections (stats).")},
	{key: "acl_access_denied_auth", fam: promkit.Counter("redis_acl_access_denied_auth_total", "Redis INFO field acl_access_denied_auth (stats).")},
	{key: "acl_access_denied_cmd", fam: promkit.Counter("redis_acl_access_denied_cmd_total", "Redis INFO field acl_access_denied_cmd (stats).")},
	{key: "acl_access_denied_key", fam: promkit.Counter("redis_acl_access_denied_key_total", "Redis INFO field acl_access_denied_key (stats).")},
	{key: "acl_access_denied_channel", fam: promkit.Counter("redis_acl_access_denied_channel_total", "Redis INFO field acl_access_denied_channel (stats).")},
	{key: "used_active_time_main_thread", fam: promkit.Counter("redis_active_time_main_thread_seconds_total", "Redis INFO field used_active_time_main_thread (cpu).")},

	// Cluster
	{key: "cluster_enabled", fam: promkit.Gauge("redis_cluster_enabled", "Redis INFO field cluster_enabled (cluster).")},
})

// masterFields are a replica's view of its primary, labelled with the
// primary's address as the incumbent does.
var masterFields = byKey([]infoField{
	{key: "master_link_status", fam: promkit.Gauge("redis_master_link_up", "Whether the link to the primary is up (on a replica).", "master_host", "master_port")},
	{key: "master_last_io_seconds_ago", fam: promkit.Gauge("redis_master_last_io_seconds_ago", "Seconds since the last interaction with the primary.", "master_host", "master_port")},
	{key: "master_sync_in_progress", fam: promkit.Gauge("redis_master_sync_in_progress", "Whether the replica is syncing from the primary.", "master_host", "master_port")},
	{key: "slave_repl_offset", fam: promkit.Gauge("redis_slave_repl_offset", "Replication offset of the replica.", "master_host", "master_port")},
})

func byKey(fields []infoField) map[string]infoField {
	m := make(map[string]infoField, len(fields))
	for _, f := range fields {
		m[f.key] = f
	}
	return m
}

// fallbackName is the metric name of an INFO field the tables do not know:
// redis_<key> with characters Prometheus does not allow replaced.
func fallbackName(key string) string {
	var b strings.Builder
	b.WriteString("redis_")
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
