/* caf run's live progress block on a terminal: one line per calibration (state, iteration, a bar of its
 * collector subjobs, executions, elapsed time, collection time left) redrawn in place from the run's
 * progress snapshots (caf_run_options.progress). Log lines printed meanwhile go above it: the block is
 * cleared, the line printed and the block drawn again, so neither is garbled. */
#ifndef CAF_CLI_PROGRESS_BLOCK_H
#define CAF_CLI_PROGRESS_BLOCK_H

#include <stdbool.h>
#include <stdio.h>

#include "caf/caf_run.h"

typedef struct progress_block progress_block;

/* A block drawn on out (a terminal), with colours unless colour is false; it takes over the log sink until
 * progress_block_close. NULL when out of memory. */
progress_block *progress_block_open(FILE *out, bool colour);

/* A caf_run_progress_fn (userdata: the block): draws the snapshot in place of the previous one; the final
 * snapshot stays on the screen and later log lines go below it. */
void progress_block_update(const caf_run_progress *progress, void *userdata);

/* Gives the log sink back and frees the block (the last drawn block stays on the screen). NULL is fine. */
void progress_block_close(progress_block *block);

/* True when caf run should draw the block on stderr: a terminal (not TERM=dumb). */
bool progress_block_wanted(void);

/* True unless $NO_COLOR is set to something (https://no-color.org). */
bool progress_block_colour_wanted(void);

#endif
