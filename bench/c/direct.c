/*
 * direct.c: a plain C Gillespie Direct-method reference for the jumpax benchmark.
 *
 * It is the practical per-core ceiling for the same algorithm that the JAX tools run:
 * every step recomputes all propensities (mass action, k * prod_i C(x_i, s_i)), draws the
 * waiting time and picks the reaction by a linear search of the cumulative sum.
 *
 * Usage: direct NETWORK_FILE MODE N_TRAJ SEED FIRST_INDEX
 *   MODE is "events" (each trajectory's event list, time and reaction index, is written into
 *   a buffer that is reused by the next trajectory), "grid" (the state at the grid times of
 *   the network file) or "final" (the state at t1 only).
 *   Trajectory i (FIRST_INDEX <= i < FIRST_INDEX + N_TRAJ) uses its own xoshiro256** stream
 *   seeded from (SEED, i), so the result does not depend on how trajectories are split
 *   between processes.
 *
 * Network file (whitespace separated):
 *   n_species n_reactions observable_index
 *   x0[0] ... x0[n_species-1]
 *   t1 n_grid grid[0] ... grid[n_grid-1]
 *   then per reaction: k n_reactants (species coeff)* n_changes (species delta)*
 *
 * Output (one line): events SUM obs_sum SUM obs_sumsq SUM maxrss_kb KB checksum VALUE
 * where obs is the observable species' count at t1.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAX_TERMS 4

typedef struct {
    double k;
    int n_reactants;
    int reactant[MAX_TERMS];
    int coeff[MAX_TERMS];
    int n_changes;
    int change_species[2 * MAX_TERMS];
    long change_delta[2 * MAX_TERMS];
} reaction_t;

typedef struct {
    int n_species, n_reactions, observable;
    long *x0;
    double t1;
    int n_grid;
    double *grid;
    reaction_t *reactions;
} network_t;

/* ------------------------------------------------------------------ random numbers */

typedef struct {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *rng, uint64_t seed, uint64_t index) {
    uint64_t state = seed * 0xD1B54A32D192ED03ULL + index;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&state);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng_t *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* A uniform double in (0, 1]. */
static inline double rng_uniform(rng_t *rng) {
    return ((double)(rng_next(rng) >> 11) + 1.0) * 0x1.0p-53;
}

/* ------------------------------------------------------------------ network file */

static void fail(const char *message) {
    fprintf(stderr, "direct: %s\n", message);
    exit(2);
}

static void read_network(const char *path, network_t *net) {
    FILE *f = fopen(path, "r");
    if (!f) fail("cannot open the network file");
    if (fscanf(f, "%d %d %d", &net->n_species, &net->n_reactions, &net->observable) != 3)
        fail("bad header");
    net->x0 = calloc(net->n_species, sizeof(long));
    for (int i = 0; i < net->n_species; i++)
        if (fscanf(f, "%ld", &net->x0[i]) != 1) fail("bad x0");
    if (fscanf(f, "%lf %d", &net->t1, &net->n_grid) != 2) fail("bad t1 / grid size");
    net->grid = calloc(net->n_grid > 0 ? net->n_grid : 1, sizeof(double));
    for (int i = 0; i < net->n_grid; i++)
        if (fscanf(f, "%lf", &net->grid[i]) != 1) fail("bad grid");
    net->reactions = calloc(net->n_reactions, sizeof(reaction_t));
    for (int j = 0; j < net->n_reactions; j++) {
        reaction_t *r = &net->reactions[j];
        if (fscanf(f, "%lf %d", &r->k, &r->n_reactants) != 2 || r->n_reactants > MAX_TERMS)
            fail("bad reaction");
        for (int i = 0; i < r->n_reactants; i++)
            if (fscanf(f, "%d %d", &r->reactant[i], &r->coeff[i]) != 2) fail("bad reactant");
        if (fscanf(f, "%d", &r->n_changes) != 1 || r->n_changes > 2 * MAX_TERMS)
            fail("bad change count");
        for (int i = 0; i < r->n_changes; i++)
            if (fscanf(f, "%d %ld", &r->change_species[i], &r->change_delta[i]) != 2)
                fail("bad change");
    }
    fclose(f);
}

/* ------------------------------------------------------------------ simulation */

/* k * prod_i C(x_i, s_i): the jumpax mass-action convention. */
static inline double propensity(const reaction_t *r, const long *x) {
    double a = r->k;
    for (int i = 0; i < r->n_reactants; i++) {
        long n = x[r->reactant[i]];
        int s = r->coeff[i];
        double c = 1.0;
        for (int m = 0; m < s; m++) c *= (double)(n - m) / (double)(m + 1);
        a *= (n >= s) ? c : 0.0;
    }
    return a;
}

typedef struct {
    double *times;
    int *reactions;
    long capacity;
} event_buffer_t;

static void record_event(event_buffer_t *buf, long i, double t, int j) {
    if (i >= buf->capacity) {
        buf->capacity = buf->capacity ? 2 * buf->capacity : 1024;
        buf->times = realloc(buf->times, buf->capacity * sizeof(double));
        buf->reactions = realloc(buf->reactions, buf->capacity * sizeof(int));
        if (!buf->times || !buf->reactions) fail("out of memory");
    }
    buf->times[i] = t;
    buf->reactions[i] = j;
}

/* Simulates one trajectory; returns its event count and leaves the state at t1 in x. */
static long simulate(const network_t *net, int mode, rng_t *rng, long *x, double *a,
                     long *grid_out, event_buffer_t *buf, double *checksum) {
    const int ns = net->n_species, nr = net->n_reactions;
    memcpy(x, net->x0, ns * sizeof(long));
    double t = 0.0;
    long events = 0;
    int g = 0;
    for (;;) {
        double a0 = 0.0;
        for (int j = 0; j < nr; j++) {
            a[j] = propensity(&net->reactions[j], x);
            a0 += a[j];
        }
        if (a0 <= 0.0) break;
        t += -log(rng_uniform(rng)) / a0;
        if (t > net->t1) break;
        if (mode == 1)
            for (; g < net->n_grid && net->grid[g] < t; g++)
                memcpy(grid_out + (long)g * ns, x, ns * sizeof(long));
        double target = rng_uniform(rng) * a0, cumulative = 0.0;
        int j = 0;
        for (; j < nr - 1; j++) {
            cumulative += a[j];
            if (target <= cumulative) break;
        }
        while (a[j] <= 0.0) j--; /* guard against rounding at the top end */
        const reaction_t *r = &net->reactions[j];
        for (int i = 0; i < r->n_changes; i++) x[r->change_species[i]] += r->change_delta[i];
        if (mode == 0) record_event(buf, events, t, j);
        events++;
    }
    if (mode == 1) {
        for (; g < net->n_grid; g++) memcpy(grid_out + (long)g * ns, x, ns * sizeof(long));
        *checksum += (double)grid_out[(long)(net->n_grid / 2) * ns];
    }
    if (mode == 0 && events > 0) *checksum += buf->times[events - 1] + buf->reactions[0];
    return events;
}

/* Peak resident memory of this process in kB: VmHWM, which (unlike ru_maxrss) starts afresh
 * at exec, so it does not include the Python process that started this one. */
static long peak_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld", &kb) == 1) break;
    if (f) fclose(f);
    if (kb < 0) {
        struct rusage usage;
        getrusage(RUSAGE_SELF, &usage);
        kb = usage.ru_maxrss;
    }
    return kb;
}

int main(int argc, char **argv) {
    if (argc != 6) fail("usage: direct NETWORK_FILE MODE N_TRAJ SEED FIRST_INDEX");
    network_t net;
    read_network(argv[1], &net);
    int mode = strcmp(argv[2], "events") == 0 ? 0 : strcmp(argv[2], "grid") == 0 ? 1 : 2;
    if (mode == 2 && strcmp(argv[2], "final") != 0) fail("MODE must be events, grid or final");
    long n_traj = atol(argv[3]);
    uint64_t seed = strtoull(argv[4], NULL, 10);
    long first = atol(argv[5]);

    long *x = calloc(net.n_species, sizeof(long));
    double *a = calloc(net.n_reactions, sizeof(double));
    long *grid_out = calloc((long)(net.n_grid > 0 ? net.n_grid : 1) * net.n_species, sizeof(long));
    event_buffer_t buf = {NULL, NULL, 0};
    double checksum = 0.0, obs_sum = 0.0, obs_sumsq = 0.0;
    long total_events = 0;
    for (long i = first; i < first + n_traj; i++) {
        rng_t rng;
        rng_seed(&rng, seed, (uint64_t)i);
        total_events += simulate(&net, mode, &rng, x, a, grid_out, &buf, &checksum);
        double obs = (double)x[net.observable];
        obs_sum += obs;
        obs_sumsq += obs * obs;
    }
    printf("events %ld obs_sum %.17g obs_sumsq %.17g maxrss_kb %ld checksum %.17g\n", total_events,
           obs_sum, obs_sumsq, peak_rss_kb(), checksum);
    return 0;
}
