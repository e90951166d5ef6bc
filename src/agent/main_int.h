/* main_int.h — the command line's entry point, shared by main.c and the Windows service
 * wrapper (service_win.c), which runs it under the service manager. */
#ifndef SIEM_AGENT_MAIN_INT_H
#define SIEM_AGENT_MAIN_INT_H

struct agent;

/* Parse argv, set up the agent and run it (run: NULL for agent_run). Returns the exit code. */
int agent_main(int argc, char **argv, int (*run)(struct agent *a));
/* Ask the running agent to stop (signal handler, service control handler). */
void agent_request_stop(void);

#endif
