/* caf run's live progress block (progress_block.h). A frame is built in memory and written in one go:
 * the cursor goes back up over the lines drawn last time, everything below is erased and the new lines
 * are written, each cut to the terminal's width so that no line wraps (a wrapped line would throw the
 * count of lines to go back up off). */
#include "cli/progress_block.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "caf/log.h"

#define BAR_WIDTH 12
#define NAME_WIDTH_MAX 24

/* SGR colours */
#define GREEN "32"
#define YELLOW "33"
#define RED "31"
#define DIM "2"
#define BOLD "1"

struct progress_block {
    FILE *out;
    bool colour;
    size_t lines_drawn; /* lines of the block on the screen now, below which the cursor sits */
    char *frame;        /* the last frame's lines, to draw again after a log line */
    size_t frame_lines;
    bool frozen; /* the final frame is drawn: it stays */
};

/* One line of a frame being written: text is cut once it reaches width visible columns. */
typedef struct frame_line {
    FILE *f;
    bool colour;
    int cols, width;
} frame_line;

static void put(frame_line *l, const char *sgr, const char *text)
{
    if (l->cols >= l->width || !*text)
        return;
    if (l->colour && sgr)
        fprintf(l->f, "\033[%sm", sgr);
    for (; *text && l->cols < l->width; text++, l->cols++)
        fputc(*text, l->f);
    if (l->colour && sgr)
        fputs("\033[0m", l->f);
}

/* The terminal's columns and rows (80 x 24 when it does not say). */
static void terminal_size(FILE *out, int *cols, int *rows)
{
    struct winsize ws;
    bool known = ioctl(fileno(out), TIOCGWINSZ, &ws) == 0;
    *cols = known && ws.ws_col > 0 ? ws.ws_col : 80;
    *rows = known && ws.ws_row > 0 ? ws.ws_row : 24;
}

static const char *state_colour(const char *state)
{
    if (!strcmp(state, "completed"))
        return GREEN;
    if (!strcmp(state, "failed") || strstr(state, "_failed"))
        return RED;
    if (!strcmp(state, "init"))
        return DIM;
    return YELLOW;
}

/* The bar: completed, failed, running, queued cells in proportion to the subjobs (cumulative rounding,
 * so the cells always fill the bar). */
static void put_bar(frame_line *l, const caf_run_progress_calibration *c)
{
    static const char glyphs[4] = {'#', 'x', '>', '.'};
    static const char *const colours[4] = {GREEN, RED, YELLOW, DIM};
    size_t parts[4] = {c->completed, c->failed, c->running, c->queued};
    put(l, NULL, "[");
    size_t sum = 0, drawn = 0;
    for (int k = 0; k < 4; k++) {
        sum += parts[k];
        size_t upto = c->subjobs ? (sum * BAR_WIDTH + c->subjobs / 2) / c->subjobs : 0;
        char cells[BAR_WIDTH + 1];
        size_t n = upto > drawn ? upto - drawn : 0;
        memset(cells, glyphs[k], n);
        cells[n] = '\0';
        put(l, colours[k], cells);
        drawn += n;
    }
    char blank[BAR_WIDTH + 1];
    memset(blank, ' ', BAR_WIDTH - drawn);
    blank[BAR_WIDTH - drawn] = '\0';
    put(l, NULL, blank);
    put(l, NULL, "]");
}

static void put_calibration(frame_line *l, const caf_run_progress_calibration *c, int name_width, int state_width)
{
    char text[256], t1[32], t2[32];
    snprintf(text, sizeof text, "  %-*.*s ", name_width, name_width, c->name);
    put(l, BOLD, text);
    snprintf(text, sizeof text, "%-*s", state_width, c->state);
    put(l, state_colour(c->state), text);
    snprintf(text, sizeof text, " it %d ", c->iteration);
    put(l, NULL, text);
    put_bar(l, c);
    snprintf(text, sizeof text, " %zu/%zu/%zu/", c->completed, c->running, c->queued);
    put(l, NULL, text);
    snprintf(text, sizeof text, "%zu", c->failed);
    put(l, c->failed ? RED : NULL, text);
    snprintf(text, sizeof text, " of %zu, %zu exec, %s", c->subjobs, c->executions,
             c->elapsed_s < 0 ? "-" : caf_run_format_duration(c->elapsed_s, t1, sizeof t1));
    put(l, NULL, text);
    if (c->remaining_s >= 0) {
        snprintf(text, sizeof text, ", ~%s left", caf_run_format_duration(c->remaining_s, t2, sizeof t2));
        put(l, NULL, text);
    }
    if (c->held_back[0]) {
        put(l, YELLOW, ", held back: ");
        put(l, YELLOW, c->held_back);
    }
}

/* The frame of a snapshot: its lines, each ending with a newline; *lines gets how many (malloc'd). */
static char *build_frame(const progress_block *b, const caf_run_progress *p, size_t *lines)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return NULL;
    int width, rows;
    terminal_size(b->out, &width, &rows);
    width -= 1;
    /* the cursor cannot go back up beyond the screen's top: the rows left over go to "N more" */
    size_t shown = p->count, room = rows > 4 ? (size_t)rows - 3 : 1;
    if (shown > room)
        shown = room;
    int name_width = 4, state_width = 4;
    for (size_t i = 0; i < shown; i++) {
        int n = (int)strlen(p->calibrations[i].name), m = (int)strlen(p->calibrations[i].state);
        name_width = n > name_width ? n : name_width;
        state_width = m > state_width ? m : state_width;
    }
    name_width = name_width < NAME_WIDTH_MAX ? name_width : NAME_WIDTH_MAX;
    char text[160], t[32];
    frame_line l = {.f = f, .colour = b->colour, .width = width};
    snprintf(text, sizeof text, "caf run: %zu of %zu calibrations finished, %s elapsed; subjobs "
             "done/running/queued/failed", p->finished, p->count, caf_run_format_duration(p->elapsed_s, t, sizeof t));
    put(&l, BOLD, text);
    fputc('\n', f);
    for (size_t i = 0; i < shown; i++) {
        l.cols = 0;
        put_calibration(&l, &p->calibrations[i], name_width, state_width);
        fputc('\n', f);
    }
    *lines = shown + 1;
    if (shown < p->count) {
        l.cols = 0;
        snprintf(text, sizeof text, "  ... %zu more (caf status OUTPUT_DIR)", p->count - shown);
        put(&l, DIM, text);
        fputc('\n', f);
        (*lines)++;
    }
    fclose(f);
    return buf;
}

static void clear_block(progress_block *b)
{
    if (b->lines_drawn > 0)
        fprintf(b->out, "\r\033[%zuA\033[J", b->lines_drawn);
    b->lines_drawn = 0;
}

static void draw_frame(progress_block *b)
{
    if (!b->frame)
        return;
    fputs(b->frame, b->out);
    b->lines_drawn = b->frame_lines;
}

static void on_log_line(caf_log_level level, const char *line, void *userdata)
{
    progress_block *b = userdata;
    clear_block(b);
    caf_log_print(level, line);
    if (!b->frozen)
        draw_frame(b);
    fflush(b->out);
}

progress_block *progress_block_open(FILE *out, bool colour)
{
    progress_block *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->out = out;
    b->colour = colour;
    caf_log_set_sink(on_log_line, b);
    return b;
}

void progress_block_update(const caf_run_progress *progress, void *userdata)
{
    progress_block *b = userdata;
    if (b->frozen)
        return;
    size_t lines = 0;
    char *frame = build_frame(b, progress, &lines);
    if (!frame)
        return;
    free(b->frame);
    b->frame = frame;
    b->frame_lines = lines;
    clear_block(b);
    draw_frame(b);
    if (progress->final) { /* it stays: later lines go below it */
        b->frozen = true;
        b->lines_drawn = 0;
    }
    fflush(b->out);
}

void progress_block_close(progress_block *b)
{
    if (!b)
        return;
    caf_log_set_sink(NULL, NULL);
    free(b->frame);
    free(b);
}

bool progress_block_wanted(void)
{
    const char *term = getenv("TERM");
    return isatty(STDERR_FILENO) && !(term && !strcmp(term, "dumb"));
}

bool progress_block_colour_wanted(void)
{
    const char *no_colour = getenv("NO_COLOR");
    return !(no_colour && *no_colour);
}
