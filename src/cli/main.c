/* SPDX-License-Identifier: MIT */
/*
 * main.c - the `weft` command: the command table with each command's help,
 * the global options (`--version`, `--help`, `--quiet`, `--verbose`) and
 * `weft help COMMAND`.
 *
 * A command is a function `int run(int argc, char **argv)` in its own
 * src/cli/cmd_*.c file that reads its arguments with cli_parse() (opts.h);
 * adding one means adding a row to `commands` below.  Unknown commands and
 * options get a one-line error and a pointer to help, with exit status 2.
 */
#include "cli/opts.h"

#include <stdio.h>
#include <string.h>

int cmd_check(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_submissions(int argc, char **argv);
int cmd_scenarios(int argc, char **argv);
int cmd_cycles(int argc, char **argv);
int cmd_primary(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_run_worker(int argc, char **argv);
int cmd_workers(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_ui(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_versions(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const cli_command commands[] = {
    {"check", cmd_check, "validate a configuration and report every problem",
     "usage: weft check [-c FILE] [--import] [--store]\n"
     "\n"
     "Loads the configuration (default: config.toml) and reports every problem,\n"
     "one per line, as FILE:LINE:COL: error|warning: MESSAGE.  A task function\n"
     "that is not a shared object of the application must be a Python module\n"
     "that can be found (searched for, not imported).\n"
     "\n"
     "  -c, --config FILE   the configuration to check\n"
     "      --import        import each Python module of a task function and look\n"
     "                      the function up: runs the modules' top-level code\n"
     "      --store         then check the store of its storage folder: SQLite's\n"
     "                      integrity check and weft's invariants (no RUNNING job\n"
     "                      without an orchestrator, no orphan rows, statuses\n"
     "                      consistent, results recorded once); one line per problem\n"
     "\n"
     "Exit status: 0 when there is no error (warnings allowed), 1 when there is an\n"
     "error or a problem in the store, 2 on a usage error.\n"},
    {"config", cmd_config, "print the effective configuration as TOML",
     "usage: weft config [-c FILE] [--raw] [--show-secrets]\n"
     "\n"
     "Prints the configuration as TOML that `weft check` accepts: defaults applied,\n"
     "inherited keys copied, ENV[...] values resolved.\n"
     "\n"
     "  -c, --config FILE   the configuration to print (default: config.toml)\n"
     "  --raw               print values as written, ENV[...] unresolved\n"
     "  --show-secrets      print passwords in URLs and [JOB] broker_secret (masked\n"
     "                      as *** by default)\n"
     "\n"
     "Exit status: 0 on success, 1 when the configuration has errors, 2 on a usage error.\n"},
    {"run", cmd_run, "run a scenario and wait for it, showing progress",
     "usage: weft run [-c FILE] [-s SCENARIO] [--sequence NAME] [--date DATE] [--mode MODE]\n"
     "                [--workers N] [--force] [--json] [--experiment|--production VERSION] [-q|-v]\n"
     "\n"
     "Creates an instance of SCENARIO, submits it and waits until every job is\n"
     "finished.  Progress goes to standard error: on a terminal one line that\n"
     "updates (a bar and the number of jobs in each status), otherwise one line per\n"
     "job status change (\"12:00:01.234 JOB_clean_1a2b3c4d clean RUNNING\").  Then a\n"
     "summary lists every job with its task, status and duration, and the error of\n"
     "each job that did not complete.\n"
     "\n"
     "  -c, --config FILE    the configuration (default: config.toml)\n"
     "  -s, --scenario ID    the scenario to run; may be left out when the\n"
     "                       configuration declares exactly one\n"
     "  --sequence NAME      run only the tasks of that sequence of the new instance\n"
     "                       ([SCENARIO.<id>.sequences] NAME = [tasks])\n"
     "  --date DATE          the new instance's creation date, YYYY-MM-DD or\n"
     "                       YYYY-MM-DDTHH:MM:SS in local time (default: now); with a\n"
     "                       scenario `frequency` it picks the instance's cycle\n"
     "  --mode MODE          development, standalone or cluster (overrides [JOB] mode)\n"
     "  -w, --workers N      worker processes in standalone mode (overrides\n"
     "                       [JOB] max_nb_of_workers)\n"
     "  -f, --force          run skippable tasks even when their outputs are up to date\n"
     "  --json               print one JSON object instead of progress and summary:\n"
     "                       {\"submission\", \"scenario\", (\"sequence\",) \"status\",\n"
     "                       \"jobs\": [{\"id\", \"task\", \"status\", \"duration_ms\",\n"
     "                       \"error\", \"exit_code\"}], \"cycle\"}\n"
     "  --experiment VERSION tag the scenario, tasks, data nodes, submission and\n"
     "                       jobs created with experiment version VERSION (letters,\n"
     "                       digits, '.', '_', '-'); without it or --production,\n"
     "                       with the version \"development\" (see 'weft versions')\n"
     "  --production VERSION the same with a production version (an experiment\n"
     "                       version of that name becomes production)\n"
     "  -q, --quiet          print only errors: not the \"running ...\" line, and no\n"
     "                       library message below the error level\n"
     "  -v, --verbose        also print debug messages: the configuration, mode and\n"
     "                       store used\n"
     "\n"
     "Ctrl-C cancels the submission: running jobs are stopped, the others are\n"
     "CANCELED or ABANDONED, and the store is left consistent.\n"
     "\n"
     "Exit status: 0 when the submission COMPLETED, 1 when it FAILED or was\n"
     "CANCELED (or could not start), 2 on a usage or configuration error (a cluster\n"
     "broker that cannot be reached or refuses the credentials included), 130 after\n"
     "Ctrl-C (143 after SIGTERM).\n"},
    {"jobs", cmd_jobs, "list jobs, their status and duration",
     "usage: weft jobs [-c FILE] [--submission ID] [--status STATUS] [--json]\n"
     "\n"
     "Lists the jobs of the store in creation order: id, task, status, when it\n"
     "entered that status, how long it ran, and its submission; the error of a job\n"
     "that did not complete is shown under it.  The store is opened read-only, so\n"
     "this works while `weft run` runs.\n"
     "\n"
     "  -c, --config FILE    the configuration that names the store (default: config.toml)\n"
     "  --submission ID      only the jobs of this submission\n"
     "  --status STATUS      only jobs in STATUS: SUBMITTED, BLOCKED, PENDING, RUNNING,\n"
     "                       CANCELED, FAILED, COMPLETED, SKIPPED or ABANDONED (any case)\n"
     "  --json               print a JSON array of jobs\n"
     "\n"
     "Exit status: 0 on success (also when no job matches), 1 when the store cannot\n"
     "be read, 2 on a usage or configuration error.\n"},
    {"show", cmd_show, "show everything about one job, submission or data node",
     "usage: weft show [-c FILE] [--lines N] [--json] ID\n"
     "\n"
     "Shows a job: its task, submission, status, the time it entered each status,\n"
     "duration, attempt, worker, exit code or signal, error, and the end of its\n"
     "output and log.  ID may be any unique prefix of a job id, such as the short\n"
     "ids of `weft run`'s progress lines.  A SUBMISSION_... id shows the submission\n"
     "and its jobs; a DATANODE_... id the data node, its last edit and editor, the\n"
     "job that holds its edit lock, and its edit history (as `weft data --info`).\n"
     "\n"
     "  -c, --config FILE    the configuration that names the store (default: config.toml)\n"
     "  -n, --lines N        lines of the log tail to show (default 20, 0: all)\n"
     "  --json               print a JSON object\n"
     "\n"
     "Exit status: 0 on success, 1 when there is no such job, 2 on a usage error.\n"},
    {"submissions", cmd_submissions, "list submissions and their status",
     "usage: weft submissions [-c FILE] [--json]\n"
     "\n"
     "Lists every submission, oldest first: id, scenario, status, creation time,\n"
     "duration and how many of its jobs are in each status.\n"
     "\n"
     "  -c, --config FILE    the configuration that names the store (default: config.toml)\n"
     "  --json               print a JSON array\n"
     "\n"
     "Exit status: 0 on success, 1 when the store cannot be read, 2 on a usage error.\n"},
    {"scenarios", cmd_scenarios, "list configured scenarios and their instances",
     "usage: weft scenarios [-c FILE] [--json]\n"
     "\n"
     "Lists the scenarios the configuration declares, with their tasks and the\n"
     "number of instances in the store, then every instance created so far with\n"
     "its cycle (scenarios with a `frequency`) and whether it is the cycle's\n"
     "primary scenario.\n"
     "\n"
     "  -c, --config FILE    the configuration (default: config.toml)\n"
     "  --json               print {\"configured\": [...], \"instances\": [...]}\n"
     "\n"
     "Exit status: 0 on success, 1 when the store cannot be read, 2 on a usage error.\n"},
    {"cycles", cmd_cycles, "list cycles, their scenarios and which is primary",
     "usage: weft cycles [-c FILE] [--json]\n"
     "\n"
     "Lists the cycles of the store by start date: a cycle is one period (day, week\n"
     "from Monday, month, quarter, year) of a scenario `frequency`, created with the\n"
     "first instance whose creation date falls in it.  Each row shows the cycle's id,\n"
     "name, frequency, first and last day, then one of its scenarios with its\n"
     "creation date, marked primary when it is the cycle's primary scenario.\n"
     "\n"
     "  -c, --config FILE    the configuration that names the store (default: config.toml)\n"
     "  --json               print a JSON array of {\"id\", \"name\", \"frequency\",\n"
     "                       \"start_date\", \"end_date\", \"creation_date\",\n"
     "                       \"primary_scenario\", \"scenarios\": [{\"id\", \"config_id\",\n"
     "                       \"creation_date\", \"primary\"}]}\n"
     "\n"
     "Exit status: 0 on success, 1 when the store cannot be read, 2 on a usage error.\n"},
    {"primary", cmd_primary, "make a scenario the primary scenario of its cycle",
     "usage: weft primary [-c FILE] SCENARIO_ID\n"
     "\n"
     "Makes the scenario instance SCENARIO_ID the primary scenario of its cycle; the\n"
     "cycle's previous primary scenario is no longer primary (one per cycle, as in\n"
     "Taipy).  The first instance created in a cycle is primary until then.\n"
     "\n"
     "  -c, --config FILE    the configuration that names the store (default: config.toml)\n"
     "\n"
     "Exit status: 0 on success, 1 when there is no such scenario or it belongs to no\n"
     "cycle (its scenario has no frequency), 2 on a usage error.\n"},
    {"data", cmd_data, "print, describe or write the content of a data node",
     "usage: weft data [-c FILE] ID\n"
     "       weft data [-c FILE] --info [--json] ID\n"
     "       weft data write [-c FILE] [--append] [--editor NAME] ID [FILE|-]\n"
     "\n"
     "Writes the content of a data node to standard output, unchanged (an excel\n"
     "node's sheet as CSV, several sheets as one JSON object).  ID is an\n"
     "instance id (DATANODE_...) or a data node config id when the store holds a\n"
     "single instance of it (GLOBAL data nodes, or after a single run).\n"
     "\n"
     "--info shows the node instead: storage type, scope, path, last edit date,\n"
     "editor (a job id, or the name of who wrote it with `weft data write`), the\n"
     "unfinished job that locks it for editing, and its edit history.\n"
     "\n"
     "`weft data write` replaces the content with FILE (standard input when FILE\n"
     "is - or absent), or adds to it with --append: csv rows (the input starts\n"
     "with the node's header), text and binary bytes, json items added to a list,\n"
     "sql_table rows (a JSON array of row objects), excel rows (CSV, after those of\n"
     "its sheet; a write of CSV replaces that sheet, of an .xlsx file the whole\n"
     "workbook).  pickle, in_memory and generic\n"
     "nodes cannot be appended to.  The input is checked first (JSON must parse,\n"
     "CSV must have the node's columns) and nothing is written when it is wrong,\n"
     "or when an unfinished job is to write the node (its edit lock).  The write\n"
     "is recorded as an edit by NAME (default: user); later runs read the new\n"
     "content, and skippable tasks that read it run again.\n"
     "\n"
     "  -c, --config FILE    the configuration (default: config.toml)\n"
     "  --info               describe the node rather than print its content\n"
     "  --json               with --info: print a JSON object\n"
     "  --append             write: add to the content rather than replace it\n"
     "  --editor NAME        write: who writes, kept in the edit history (default: user)\n"
     "\n"
     "Exit status: 0 on success, 1 when there is no such data node, it has no\n"
     "content yet, or the write is refused, 2 on a usage error.\n"},
    {"cancel", cmd_cancel, "cancel a job or a submission",
     "usage: weft cancel [-c FILE] [--no-wait] ID\n"
     "\n"
     "Cancels a job (ID is a job id or a unique prefix of one), or every unfinished\n"
     "job of a submission (a SUBMISSION_... id).  A job not yet running becomes\n"
     "CANCELED; a running one is stopped, then CANCELED; the jobs downstream become\n"
     "ABANDONED.  Works from another terminal while `weft run` runs: the request is\n"
     "recorded in the store and the running orchestrator acts on it.  The command\n"
     "waits up to 5 s to report the final status.\n"
     "\n"
     "  -c, --config FILE    the configuration (default: config.toml)\n"
     "  --no-wait            return once the request is recorded\n"
     "\n"
     "Exit status: 0 when the cancel was done or requested, 1 when the job is\n"
     "already finished or unknown, 2 on a usage error.\n"},
    {"delete", cmd_delete, "delete a job, a submission, a scenario or a cycle",
     "usage: weft delete [-c FILE] [--force] [--dry-run] ID\n"
     "\n"
     "Deletes a job (JOB_...), a submission with its jobs (SUBMISSION_...), a\n"
     "scenario (SCENARIO_...) with its tasks, its submissions and their jobs, and\n"
     "its SCENARIO-scoped data nodes with the files weft generated for them\n"
     "(GLOBAL and CYCLE data nodes stay; a configured default_path is never\n"
     "removed), or a cycle (CYCLE_...) with its scenarios and its CYCLE data\n"
     "nodes.  The primary scenario of a cycle that has other scenarios is refused\n"
     "(make another one primary first, with 'weft primary').  Every row goes in\n"
     "one transaction, files after it.  An unfinished job is refused, named in\n"
     "the error, unless --force.\n"
     "Opens the store read-write: not while `weft run` holds it.\n"
     "\n"
     "  -c, --config FILE    the configuration (default: config.toml)\n"
     "  -f, --force          cancel the unfinished submissions first, then delete\n"
     "  -n, --dry-run        say what would be deleted, change nothing (reads the\n"
     "                       store as it is: a run that was killed is settled only\n"
     "                       by a real deletion, which opens the store read-write)\n"
     "\n"
     "Exit status: 0 when deleted, 1 when the id is unknown, something is unfinished\n"
     "or the store is in use, 2 on a usage error.\n"},
    {"clean", cmd_clean, "delete every entity, or the finished ones older than a duration",
     "usage: weft clean [-c FILE] [--older-than DURATION] [--force] [--dry-run]\n"
     "\n"
     "Without --older-than, deletes every scenario, task, data node (with the files\n"
     "weft generated), submission, job and version (Taipy's clean_all_entities);\n"
     "refused while a job is unfinished, unless --force.  With --older-than, deletes\n"
     "the finished submissions created more than DURATION ago and the scenarios\n"
     "created more than DURATION ago whose submissions all go too: run it from cron\n"
     "to keep a store bounded.  Both remove generated data files that no data node\n"
     "names any more.\n"
     "\n"
     "  -c, --config FILE       the configuration (default: config.toml)\n"
     "  --older-than DURATION   a whole number and a unit: s, m, h or d (30d, 12h)\n"
     "  -f, --force             cancel unfinished submissions first (whole clean only)\n"
     "  -n, --dry-run           say what would be deleted, change nothing\n"
     "\n"
     "Exit status: 0 when cleaned, 1 when something is unfinished or the store is in\n"
     "use, 2 on a usage error.\n"},
    {"versions", cmd_versions, "list the versions of the store, or delete one",
     "usage: weft versions [-c FILE] [--json] | --delete VERSION [--force] [--dry-run]\n"
     "\n"
     "Lists the versions entities were created with (`weft run --experiment NAME`,\n"
     "`--production NAME`, or \"development\" without them): name, mode, creation\n"
     "date and number of scenarios, tasks, data nodes, submissions and jobs.\n"
     "\n"
     "  -c, --config FILE    the configuration (default: config.toml)\n"
     "  --json               [{\"name\", \"mode\", \"created_us\", \"entities\"}]\n"
     "  --delete VERSION     delete the version and every entity tagged with it, by\n"
     "                       the rules of 'weft delete' (GLOBAL data nodes stay)\n"
     "  -f, --force          with --delete: cancel its unfinished submissions first\n"
     "  -n, --dry-run        with --delete: say what would be deleted, change nothing\n"
     "\n"
     "Exit status: 0 on success, 1 when the version is unknown or something is\n"
     "unfinished, 2 on a usage error.\n"},
    {"run-worker", cmd_run_worker, "serve cluster mode: run jobs from the RabbitMQ queue",
     "usage: weft run-worker [--application-path PATH] [--broker URL | --broker-file FILE]\n"
     "                       [--queue Q] [--concurrency N | --autoscale MAX[,MIN]]\n"
     "                       [--prefetch P] [--secret-file FILE] [--metrics [ADDR:]PORT]\n"
     "\n"
     "Runs jobs that orchestrators in cluster mode queue on RabbitMQ.  Loads the\n"
     "application PATH/config.toml and its task modules, takes jobs from the queue\n"
     "(basic.qos prefetch P), runs at most N at a time, each in a worker process,\n"
     "and reports its "
     "status and result to the orchestrator.  A job message is acknowledged only\n"
     "once its result is confirmed by the broker: a worker that dies leaves its job\n"
     "to be delivered again, and a job whose worker died [JOB] max_attempts times\n"
     "ends FAILED.\n"
     "\n"
     "  --application-path PATH   the application folder (default: the current one)\n"
     "  --broker URL              overrides [JOB] broker_url (amqp:// or amqps://);\n"
     "                            every user of the machine can see it (ps)\n"
     "  --broker-file FILE        the URL on FILE's first line (keep it chmod 600);\n"
     "                            without either, WEFT_BROKER_URL, then the config\n"
     "  --queue Q                 overrides [JOB] queue (default weft.jobs)\n"
     "  --concurrency N           jobs run at once (default: one per CPU)\n"
     "  --prefetch P              jobs taken from the queue at most.  Default 2N (up\n"
     "                            to 64N while jobs are short), and\n"
     "                            a job taken while all N slots are busy goes back to\n"
     "                            the queue after 200 ms (the worker then takes no\n"
     "                            job until a slot frees): the next job is at hand\n"
     "                            when a slot frees, and a long job never holds a\n"
     "                            short one while another worker is idle.  An explicit\n"
     "                            P is kept as is, with no hand-back: faster for many\n"
     "                            short jobs, but a long job then delays the ones\n"
     "                            prefetched behind it\n"
     "  --autoscale MAX[,MIN]     start MIN job processes (default 1) and grow up to\n"
     "                            MAX while all are busy and jobs wait (held, or\n"
     "                            handed back to the queue), by the waiting jobs at a\n"
     "                            time; shrink to the busy ones, not below MIN, once\n"
     "                            some stayed free for 10 s.  Only idle processes\n"
     "                            end.  The prefetch follows: 2 x the current size.\n"
     "                            Not with --concurrency or --prefetch (exit 2)\n"
     "  --secret-file FILE        the shared secret that signs cluster messages (its\n"
     "                            first line; default: [JOB] broker_secret)\n"
     "  --metrics [ADDR:]PORT     serve Prometheus text over HTTP on ADDR:PORT (IPv4,\n"
     "                            default address 127.0.0.1): the queue's ready\n"
     "                            messages and consumers, this worker's size, busy\n"
     "                            slots, unacked deliveries (summed over the workers:\n"
     "                            the queue's), jobs started and finished (totals,\n"
     "                            and per second over the last minute)\n"
     "\n"
     "SIGTERM (or Ctrl-C) drains: no new jobs, running ones finish and are reported,\n"
     "then the worker exits 0; a second signal stops at once (unfinished jobs are\n"
     "delivered again to other workers).  While the broker is unreachable the worker\n"
     "retries with backoff.\n"
     "\n"
     "Exit status: 0 after draining, 1 on a failure, 2 on a usage error or a\n"
     "configuration that cannot be loaded.\n"},
    {"workers", cmd_workers, "list the cluster workers serving a queue",
     "usage: weft workers [-c FILE] [--broker URL | --broker-file FILE] [--queue NAME]\n"
     "                    [--wait SECONDS] [--json]\n"
     "\n"
     "Listens to the announcements that every `weft run-worker` makes every 3 s and\n"
     "lists the workers heard: host:pid, state, jobs run, deliveries it holds\n"
     "unacknowledged, current jobs; then the queue's unacknowledged messages, the sum\n"
     "over the live workers, as their last heartbeats (at most 3 s old) say.  Needs\n"
     "only the broker, not the store.\n"
     "\n"
     "With --json: one object with the queue's load (ready messages and consumers,\n"
     "from a passive queue.declare; unacked, the live workers' sum, null when one\n"
     "does not report it), the fleet's jobs started and finished per second over\n"
     "the last minute, and per worker its size, busy slots, unacked deliveries, jobs\n"
     "started and finished, rates and last heartbeat (µs since the epoch).\n"
     "\n"
     "  -c, --config FILE   the configuration naming the broker (default: config.toml)\n"
     "  --broker URL        overrides [JOB] broker_url\n"
     "  --broker-file FILE  the URL on FILE's first line; without either,\n"
     "                      WEFT_BROKER_URL, then the config\n"
     "  --queue NAME        overrides [JOB] queue\n"
     "  --wait SECONDS      how long to listen (default 4)\n"
     "  --json              print JSON (above)\n"
     "\n"
     "Exit status: 0 on success, 1 when the broker cannot be reached (or, with\n"
     "--json, the queue does not exist), 2 on a usage\n"
     "error.\n"},
    {"bench", cmd_bench, "measure throughput, latency and memory on a generated scenario",
     "usage: weft bench [--mode development|standalone|cluster] [--workers N] [--jobs N]\n"
     "                  [--shape independent|chain|fanout] [--task noop|py-noop|spin:MS|sleep:MS]\n"
     "                  [--one-at-a-time | --fairness [--long MS]]\n"
     "                  [--broker URL | --broker-file FILE] [--queue Q] [--app-dir DIR]\n"
     "                  [--prefetch P] [--concurrency N] [--use-running-workers] [--keep] [--json]\n"
     "\n"
     "Builds a scenario of N tasks in code, runs it against a real store in a\n"
     "temporary folder (removed afterwards) and reports: jobs per second, the\n"
     "latency from a submission's creation to each job's start (p50, p99) and to\n"
     "its end, the wall time from submit to the last job's end, the time to build\n"
     "the config and submit, and the peak RSS of this process (the orchestrator;\n"
     "worker processes are not counted).  A warm-up submission runs first.\n"
     "\n"
     "  --mode MODE           development, standalone (default) or cluster\n"
     "  -w, --workers N       worker processes (default 2); in cluster mode, the\n"
     "                        number of `weft run-worker` started\n"
     "  --jobs N              jobs in the scenario (default 1000)\n"
     "  --shape SHAPE         independent (default): N unrelated tasks;\n"
     "                        chain: each task reads the previous task's output;\n"
     "                        fanout: N-1 tasks feeding one join task (N-way fan-in)\n"
     "  --task TASK           noop (default: weft.noop), py-noop (a Python function\n"
     "                        that returns None, run by the embedded CPython) or\n"
     "                        spin:MS (weft.spin, MS milliseconds of CPU;\n"
     "                        independent shape only) or sleep:MS (weft.sleep)\n"
     "  --one-at-a-time       submit N one-job scenarios, each after the previous\n"
     "                        one finished (latency rather than throughput)\n"
     "  --fairness            submit a long job, and once it runs, N one-job\n"
     "                        scenarios at once: their figures (finish_max_ms: the\n"
     "                        worst), not the long job's (standalone, cluster)\n"
     "  --long MS             with --fairness: the long job's length (default 5000)\n"
     "  --broker URL          cluster: the RabbitMQ URL (ps shows it: prefer the next)\n"
     "  --broker-file FILE    cluster: the URL on FILE's first line; without either,\n"
     "                        WEFT_BROKER_URL, then [JOB] broker_url.  The workers\n"
     "                        read it from the config.toml written for them\n"
     "  --queue Q             cluster: the queue (default weft.bench.PID)\n"
     "  --app-dir DIR         write config.toml and the store in DIR (kept) rather\n"
     "                        than in a temporary folder\n"
     "  --prefetch P          cluster: each worker's prefetch (run-worker --prefetch;\n"
     "                        default: the worker's, 2 to 64 with the 200 ms hand-back)\n"
     "  --concurrency N       cluster: each worker's job processes (run-worker\n"
     "                        --concurrency; default 1, 0: the worker's default,\n"
     "                        one per CPU)\n"
     "  --use-running-workers cluster: start no workers; wait for workers serving\n"
     "                        --app-dir DIR and the queue (start them once DIR/config.toml\n"
     "                        is written: weft run-worker --application-path DIR --queue Q)\n"
     "  --keep                keep the temporary folder and print its path\n"
     "  --json                print one JSON object: mode, workers, jobs, shape, task,\n"
     "                        jobs_per_second, us_per_job, latency_p50_ms,\n"
     "                        latency_p99_ms, finish_p50_ms, finish_p99_ms,\n"
     "                        finish_max_ms, one_at_a_time, fairness (and long_ms),\n"
     "                        concurrency (cluster),\n"
     "                        wall_seconds, build_seconds, submit_seconds,\n"
     "                        peak_rss_bytes, rss_per_job_bytes, completed, failed\n"
     "                        (and cpu_efficiency for spin tasks)\n"
     "\n"
     "Exit status: 0 when every job completed, 1 when the run failed or a job did\n"
     "not complete, 2 on a usage error.\n"},
    {"ui", cmd_ui, "serve a live web view of the store, with a JSON API",
     "usage: weft ui [-c FILE] [--listen ADDR:PORT] [--token-file FILE]\n"
     "\n"
     "Serves a web page, a JSON API (docs/API.md), Server-Sent Events of job status\n"
     "changes and Prometheus metrics (/metrics) from the store, opened read-only: it\n"
     "runs beside `weft run`, run-workers and other readers and follows their\n"
     "progress.  The page's Run button starts `weft run -c FILE -s SCENARIO`.\n"
     "\n"
     "  -c, --config FILE     the configuration (default: config.toml)\n"
     "  --listen ADDR:PORT    where to listen (default 127.0.0.1:8765; port 0: any\n"
     "                        free port); an address other than loopback needs\n"
     "                        --token-file\n"
     "  --token-file FILE     every request must then carry the token of FILE, as\n"
     "                        \"Authorization: Bearer TOKEN\" or the cookie weft_token\n"
     "\n"
     "Ctrl-C stops the server; runs started from the page go on.\n"
     "\n"
     "Exit status: 0 when stopped, 1 when it cannot serve, 2 on a usage error.\n"},
    {"graph", cmd_graph, "draw the DAG of a scenario or a submission",
     "usage: weft graph [-c FILE] [-s SCENARIO | SUBMISSION_ID] [--format dot|svg|png]\n"
     "\n"
     "Prints the tasks and data nodes of a configured scenario, or of a submission\n"
     "with each task coloured by its job's status, laid out by Graphviz.\n"
     "\n"
     "  -c, --config FILE    the configuration (default: config.toml)\n"
     "  -s, --scenario ID    a scenario of the configuration\n"
     "  --format FORMAT      dot (the source), svg (default) or png\n"
     "\n"
     "Exit status: 0 on success, 1 when there is no such submission, 2 on a usage\n"
     "error.\n"},
    {"help", cmd_help, "show help for a command",
     "usage: weft help [COMMAND]\n"
     "\n"
     "Shows the help of COMMAND, or the list of commands.\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

const cli_command *cli_find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static void print_usage(FILE *out)
{
    fputs("usage: weft [-V|--version] [-h|--help] [-q|--quiet] [-v|--verbose] COMMAND [ARGS]\n"
          "\n"
          "weft runs data pipelines declared in a Taipy-compatible config.toml.\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Options for every command, given before COMMAND or after its name:\n"
          "  -q, --quiet     print only errors (no informative lines, no library\n"
          "                  messages below the error level)\n"
          "  -v, --verbose   also print the library's debug messages\n"
          "  -h, --help      show the command's help\n"
          "\n"
          "Run 'weft help COMMAND' for a command's options.\n",
          out);
}

static int cmd_help(int argc, char **argv)
{
    const char *pos[1];
    const cli_opt opts[] = {CLI_END};
    cli_parse_opts p = {.cmd = "help", .opts = opts, .pos = pos, .maxpos = 1};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (got.npos == 0) {
        print_usage(stdout);
        return CLI_OK;
    }
    const cli_command *c = cli_find(pos[0]);
    if (!c) return cli_usage_error(NULL, "'%s' is not a weft command", pos[0]);
    fputs(c->help, stdout);
    return CLI_OK;
}

/* `weft CMD ... --help` is the same as `weft help CMD`; after "--" it is an argument. */
static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    return false;
}

int main(int argc, char **argv)
{
    cli_log_init(WEFT_LOG_INFO);
    bool version = false, help = false;
    const cli_opt opts[] = {CLI_FLAG("version", 'V', &version), CLI_FLAG("help", 'h', &help), CLI_LOG_OPTS,
                            CLI_END};
    cli_parse_opts p = {.cmd = NULL, .opts = opts, .stop_at_positional = true};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (version) {
        printf("weft %s\n", weft_version());
        return CLI_OK;
    }
    if (help) {
        print_usage(stdout);
        return CLI_OK;
    }
    if (got.next >= argc) {
        print_usage(stderr);
        return CLI_USAGE;
    }
    const cli_command *c = cli_find(argv[got.next]);
    if (!c) return cli_usage_error(NULL, "'%s' is not a weft command", argv[got.next]);
    if (wants_help(argc - got.next, argv + got.next)) {
        fputs(c->help, stdout);
        return CLI_OK;
    }
    return c->run(argc - got.next, argv + got.next);
}
