/* `custos incidents` for the tests until daemon/main.c's command table has
 * its row: argv[1] is the subcommand's name, as main passes it. */
#include <stdio.h>

#include "incidents/incidents.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s incidents ...\n", argv[0]);
        return 2;
    }
    return inc_cmd_incidents(argc - 1, argv + 1);
}
