/* SPDX-License-Identifier: MIT */
/*
 * defaults.h - the one home of weft's default values and fixed names: the
 * execution modes, the storage folder, the cluster queue and attempts, the
 * grace time between SIGTERM and SIGKILL, the worker count.  The config layer, the executors,
 * the runner and the CLI's help all take them from here, so a default is
 * changed in one place.  (docs/CONFIG.md lists them for users.)
 */
#ifndef WEFT_UTIL_DEFAULTS_H
#define WEFT_UTIL_DEFAULTS_H

/* [JOB] mode: the names, in weft_mode order (development is the default). */
#define WEFT__MODE_DEVELOPMENT "development"
#define WEFT__MODE_STANDALONE "standalone"
#define WEFT__MODE_CLUSTER "cluster"

/* [CORE] storage_folder: the store, data node files and the lock, relative
 * to the application path. */
#define WEFT__DEFAULT_STORAGE_FOLDER ".weft/"

/* How long opening a storage folder waits for its lock when the process
 * that took it is dead: processes it forked (its fork server, workers
 * being killed) hold the lock until they have exited, which takes
 * milliseconds after a crash. */
#define WEFT__LOCK_ORPHAN_WAIT_MS 5000

/* [JOB] max_nb_of_workers: standalone pool size (Taipy's default). */
#define WEFT__DEFAULT_WORKERS 2

/* [JOB] queue: the durable RabbitMQ queue jobs go to; the status queue and
 * the control exchange are named after it ("<queue>.status", ...). */
#define WEFT__DEFAULT_QUEUE "weft.jobs"

/* [JOB] broker_url when none is configured. */
#define WEFT__DEFAULT_BROKER_URL "amqp://guest:guest@localhost:5672/%2f"

/* [JOB] max_attempts: runs of a cluster job whose worker is lost before it
 * FAILs (a job that kills its worker is not retried forever). */
#define WEFT__DEFAULT_MAX_ATTEMPTS 3
/* [JOB] broker_secret, the HMAC key of cluster messages: shorter draws a
 * warning (128 bits of hex, or 16 random characters), longer is refused. */
#define WEFT__SECRET_MIN 16
#define WEFT__SECRET_MAX 4096

/* Between SIGTERM and SIGKILL when a job is canceled or times out: the
 * same for a command's process group, a standalone worker and a cluster
 * job process.  Long enough for a handler to flush, short enough that a
 * cancel is seen to act within a second. */
#define WEFT__KILL_GRACE_MS 500

/* How long a worker service at its default prefetch (2 x concurrency)
 * holds a job taken ahead of a free slot before handing it back to the
 * queue (src/cluster/service.c): short enough that a job never waits long
 * behind a long one while another worker is idle, long enough that a slot
 * freeing soon (the common case with short jobs) finds its next job here,
 * with no broker round trip. */
#define WEFT__HOLD_MS 200

/* A cluster job's RUNNING status goes out once it has run this long
 * (src/cluster/service.c): a job that ends sooner sends its result only,
 * which says that it ran, so a short job costs the broker and the
 * orchestrator one status message instead of two.  Both say how long the
 * job had run (ran_us), and the orchestrator dates RUNNING from that: a
 * live view sees a longer job start this much late, the store does not. */
#define WEFT__RUNNING_AFTER_MS 10

/* An autoscaling worker service (run-worker --autoscale MAX,MIN) shrinks
 * back towards MIN once some of its slots stayed free this long: long
 * enough that a queue fed in bursts a few seconds apart keeps its
 * processes (a fork and an application load each), short enough that an
 * idle worker gives its memory back within a heartbeat or three. */
#define WEFT__AUTOSCALE_IDLE_MS 10000

/* A worker service's job processes when not told (run-worker
 * --concurrency): this many per online CPU, as task queues commonly do, so
 * that a long job leaves slots for short ones on any machine with two CPUs. */
#define WEFT__WORKER_SLOTS_PER_CPU 1

/* How long the standalone pool waits for its fork server to exit (after
 * closing its channel and a SIGCONT) before it SIGKILLs it: it normally
 * takes a few ms to kill and reap its workers. */
#define WEFT__FORKSERVER_EXIT_MS 2000

/* How long a standalone job being stopped (cancel, timeout, shutdown) may
 * take past its SIGKILL before the pool gives up on it and reports it
 * ended (a stopped fork server cannot deliver the signal). */
#define WEFT__STOP_GIVE_UP_MS 1500

/* Above this many standalone workers `weft check` warns: each is a process
 * with a copy-on-write image of the program, and machines rarely have that
 * many cores. */
#define WEFT__WORKERS_WARN_ABOVE 256

/* The prefix of the Python that libweft is linked with (the Makefile sets
 * it from pkg-config python3-embed).  The embedded interpreter takes its
 * standard library from there unless PYTHONHOME says otherwise: left to
 * itself it looks for `python3` on PATH, which may be another Python
 * (pyenv, a venv) whose library does not match the linked libpython. */
#ifndef WEFT__PYTHON_HOME
#define WEFT__PYTHON_HOME "/usr"
/* A worker process (standalone workers, cluster job processes) keeps the
 * heap that a job freed for the next job, up to WEFT__WORKER_KEEP_HEAP
 * bytes, and takes blocks up to WEFT__WORKER_MMAP_MAX from that heap
 * rather than from fresh mappings (glibc's M_TRIM_THRESHOLD and
 * M_MMAP_THRESHOLD).  glibc's own policy hands the top of the heap back
 * after each job, and the next one faults it in again, zeroed: a pandas
 * task reading 10 MB of CSV paid 8,600 page faults a job, 20-25% of its
 * time (docs/PERFORMANCE.md).  GLIBC_TUNABLES glibc.malloc.* or
 * MALLOC_*_THRESHOLD_ in the environment win over these. */
#define WEFT__WORKER_KEEP_HEAP (64 * 1024 * 1024)
#define WEFT__WORKER_MMAP_MAX (32 * 1024 * 1024)

#endif

/* How often a running Python task asks whether it is canceled (its
 * deadline is checked on every traced line; the hook may take a lock).
 * In a worker's main thread each poll makes the job hand the GIL to the
 * watcher and back: at 20 ms a loaded machine charged a pandas task for
 * 50 handoffs a second; 100 ms still stops a job well within a second. */
#define WEFT__PY_CANCEL_POLL_MS 100

/* A worker process (standalone workers, cluster job processes) keeps the
 * heap that a job freed for the next job, up to WEFT__WORKER_KEEP_HEAP
 * bytes, and takes blocks up to WEFT__WORKER_MMAP_MAX from that heap
 * rather than from fresh mappings (glibc's M_TRIM_THRESHOLD and
 * M_MMAP_THRESHOLD).  glibc's own policy hands the top of the heap back
 * after each job, and the next one faults it in again, zeroed: a pandas
 * task reading 10 MB of CSV paid 8,600 page faults a job, 20-25% of its
 * time (docs/PERFORMANCE.md).  GLIBC_TUNABLES glibc.malloc.* or
 * MALLOC_*_THRESHOLD_ in the environment win over these. */
#define WEFT__WORKER_KEEP_HEAP (64 * 1024 * 1024)
#define WEFT__WORKER_MMAP_MAX (32 * 1024 * 1024)

#endif
