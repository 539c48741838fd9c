/* caf-algo-zygote: the execution zygote program (caf/algorithm_zygote.h), started by libcaf's algorithm
 * runner, never by hand. It loads one algorithm plugin and forks one child per execution on request. */

#include "caf/algorithm_zygote.h"

int main(int argc, char **argv)
{
    return caf_algo_zygote_main(argc, argv);
}
