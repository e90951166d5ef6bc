/* logtest.h — `minisiem logtest`: raw log lines in, normalized NDJSON events out, through
 * the same parser the hub uses (logline_to_event). */
#ifndef SIEM_LOGTEST_H
#define SIEM_LOGTEST_H

/* argv[0] is the first argument after "logtest". Returns the exit status: 0 every line
 * parsed, 1 a line failed or input could not be read, 2 usage error. */
int cmd_logtest(int argc, char **argv);

#endif
