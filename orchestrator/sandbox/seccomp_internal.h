/* seccomp_internal.h: helpers shared by the seccomp modules of the sandbox engine. */
#ifndef JOBCELL_SECCOMP_INTERNAL_H
#define JOBCELL_SECCOMP_INTERNAL_H

#include "jobcell/seccomp.h"

/* A rule's conditions as alternatives ("clauses"): each clause is a list of conditions
 * that must all hold. Conditions on distinct arguments form one clause; when an argument
 * index repeats, every condition is its own clause (runc's reading of such rules, and the
 * only one libseccomp can express). Returns the number of clauses (0 = unconditional);
 * clause k is args[first[k]] … with count[k] items when grouped, or args[k] alone. */
static inline bool jc_seccomp_rule_args_repeat(const jc_seccomp_rule *r) {
    unsigned seen = 0;
    for (size_t i = 0; i < r->nargs; i++) {
        if (seen & (1u << r->args[i].index))
            return true;
        seen |= 1u << r->args[i].index;
    }
    return false;
}

/* Does one condition hold for this argument value? */
bool jc_seccomp_arg_matches(const jc_seccomp_arg *a, uint64_t v);
/* Can some argument values satisfy the rule? */
bool jc_seccomp_rule_satisfiable(const jc_seccomp_rule *r);

/* The effective action of a rule or default in the learn variant. */
jc_seccomp_action jc_seccomp_learn_action(jc_seccomp_action a);

#endif
