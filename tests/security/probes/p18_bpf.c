/* 18. bpf(BPF_PROG_LOAD) → EPERM. */
#include <linux/bpf.h>
#include <sys/syscall.h>

#include "../probe.h"

int main(void) {
    probe_begin(18, "bpf");
    /* r0 = 0; exit: the smallest valid socket filter */
    struct bpf_insn prog[2] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insn_cnt = 2;
    attr.insns = (unsigned long)prog;
    attr.license = (unsigned long)"GPL";
    EXPECT_FAIL("bpf(BPF_PROG_LOAD)", syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)), EPERM);
    memset(&attr, 0, sizeof(attr));
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    EXPECT_FAIL("bpf(BPF_MAP_CREATE)", syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)),
                EPERM);
    return probe_end();
}
