/* rulestest.h — `minisiem rules test RULE.yml [EVENTS.ndjson]`: compile a Sigma rule file,
 * run events through a fresh detector, print its matches and correlation hits as NDJSON. */
#ifndef SIEM_RULESTEST_H
#define SIEM_RULESTEST_H

/* argv[0] is the first argument after "rules" (the subcommand, "test"). Returns the exit
 * status: 0 ok, 1 the rule did not compile or input could not be read, 2 usage error. */
int cmd_rules(int argc, char **argv);
/* `minisiem rules check DIR...` (rulescheck.c): argv[0] is the first argument after "check". */
int cmd_rules_check(int argc, char **argv);

#endif
