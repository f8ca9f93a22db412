/*
 * The program's subcommands, named by its first word: taskfarm report
 * JOURNAL [-o FILE.html] and taskfarm status JOURNAL [--json]. They read
 * a journal and never start MPI. Part of the program, not the library:
 * they print, and return the exit code (exit.h).
 */
#ifndef TF_FARM_SUBCMD_H
#define TF_FARM_SUBCMD_H

/** argv[0] is the subcommand's name. */
int tf__cmd_report(int argc, char **argv);
int tf__cmd_status(int argc, char **argv);

#endif
