/* runtime_default.c: the runtime listener's routes when runtime.c does not provide them.
 *
 * A weak definition: runtime.c's strong jc_runtime_routes replaces it. jobcell-api links
 * the server library whole, so the choice never depends on archive member order. */
#include "http.h"

__attribute__((weak)) void jc_runtime_routes(jc_router *r, jc_api *api) {
    (void)r;
    (void)api;
}
