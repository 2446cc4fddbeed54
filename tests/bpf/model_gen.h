/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * model_gen.h - what test_model.c shares with its generators: the random
 * stream (one seed reproduces a run), the random policy (model_policy.c)
 * and the frames aimed at it (model_frames.c).
 */
#ifndef EDPG_TEST_MODEL_GEN_H
#define EDPG_TEST_MODEL_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfmaps.h"
#include "model.h"

#define MAXF 600

struct frame {
	uint8_t b[MAXF];
	size_t len;
	/* where the headers are, for field mutations (0 = none) */
	size_t l3, l4, ext;
	int family, proto;
};

/* xorshift64* state: set from the printed seed. */
extern uint64_t rng_state;
/* The current policy, as the model sees it, and its service names. */
extern struct model_policy pol;
extern char svc_names[MODEL_MAX_SVCS][8];

uint32_t rnd(void);
uint32_t below(uint32_t n);
bool chance(int percent);
void gen_policy(void);
void rules_text(char *out, size_t len, char *gws, size_t glen);
int load_policy(struct edpg_bpf *b);
void put16(uint8_t *p, unsigned int v);
void fill(uint8_t *p, size_t n);
int pick_mac(uint8_t *mac);
void build_valid(struct frame *fr);
void mutate(struct frame *fr);
/* Address helpers of the policy generator, for frames aimed at it. */
int bits_of(int family);
void fresh_base(uint8_t *a, int family);
void randomize_host(uint8_t *a, int family, int plen);

#endif
