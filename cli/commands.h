/* commands.h — the entry point of every subcommand: int cmd_NAME(int argc, char **argv), where
 * argv[0..argc) are the words after the subcommand's name. Returns the exit status: 0 success,
 * 1 refused or failed (the message is printed), 2 bad usage. Each is defined in cli/cmd_NAME.c,
 * which parses the flags, calls one pipeline of the module below and reports. */
#ifndef SL_COMMANDS_H
#define SL_COMMANDS_H

int cmd_synth(int argc, char **argv);
int cmd_consent(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_clip(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_swap(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* Re-executes the program once with OMP_WAIT_POLICY=passive unless the variable is set (cli/omp_env.c). */
void sl_prefer_passive_openmp(char **argv);

#endif
