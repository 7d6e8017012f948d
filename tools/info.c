/*
 * adjoint info — what this build and this machine run: the version, the
 * elementwise kernels, BLIS's version and sub-configuration, the thread
 * count and where it comes from, and whether MPI training is built in.
 */
#include "commands.h"

#include <adjoint.h>
#include <string.h>

static void info_usage(FILE *f)
{
    fprintf(f, "usage: adjoint info [--json] [--help]\n"
               "Print the library version, the elementwise kernels in use, the BLIS version\n"
               "and the sub-configuration its kernels come from, the thread count and where\n"
               "it comes from, and whether data-parallel training over MPI is built in.\n");
}

#ifdef ADJ_HAVE_MPI
#define MPI_BUILT 1
#else
#define MPI_BUILT 0
#endif

int adj_cmd_info(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            info_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "adjoint info: unexpected argument '%s'\n", argv[i]);
            info_usage(stderr);
            return 2;
        }
    }
    adj_runtime r;
    if (adj_runtime_info(&r) != ADJ_OK) {
        fprintf(stderr, "adjoint info: the library gave no runtime information\n");
        return 1;
    }
    if (json) {
        const char *keys[] = {"version",   "kernels",        "blis_version",
                              "blis_arch", "blis_arch_from", "threads_from"};
        const char *vals[] = {r.version,   r.kernels,        r.blis_version,
                              r.blis_arch, r.blis_arch_from, r.threads_from};
        printf("{");
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            printf("\"%s\": ", keys[k]);
            adj_tool_json_string(stdout, vals[k]);
            printf(", ");
        }
        printf("\"threads\": %d, \"mpi\": %s}\n", r.threads, MPI_BUILT ? "true" : "false");
        return 0;
    }
    printf("adjoint %s\n", r.version);
    printf("elementwise kernels  %s\n", r.kernels);
    printf("BLIS                 %s, sub-configuration %s, chosen by %s\n", r.blis_version,
           r.blis_arch, r.blis_arch_from);
    printf("threads              %d (from %s)\n", r.threads, r.threads_from);
    printf("MPI training         %s\n",
           MPI_BUILT ? "built in (mpirun -np N adjoint train)" : "not built (no MPI found)");
    return 0;
}
