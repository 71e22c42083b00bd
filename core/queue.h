/* A bounded, thread-safe FIFO between two stages. Each item has a weight
 * (1, or the number of events it holds); the queue holds at most cap of
 * weight, except that an item heavier than cap still goes into an empty
 * queue (or it could never be accepted). A full queue either blocks the
 * producer (back-pressure) or refuses the item (the caller counts the
 * drop), by the policy given at each push. */
#ifndef CORE_QUEUE_H
#define CORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct core_queue core_queue;

typedef enum {
    CORE_QUEUE_BLOCK, /* wait for room (or for the queue to close) */
    CORE_QUEUE_DROP,  /* refuse the item at once */
} core_queue_policy;

typedef enum {
    CORE_QUEUE_OK,
    CORE_QUEUE_FULL,   /* CORE_QUEUE_DROP and no room: the item was not taken */
    CORE_QUEUE_CLOSED, /* the queue is closed: the item was not taken */
} core_queue_status;

/* NULL when out of memory. */
core_queue *core_queue_new(size_t cap);
/* Frees the queue; items still in it are passed to free_item (may be NULL). */
void core_queue_free(core_queue *q, void (*free_item)(void *item));

/* Appends item. *waited (may be NULL) is set when the push had to wait. */
core_queue_status core_queue_push(core_queue *q, void *item, size_t weight,
                                  core_queue_policy policy, bool *waited);
/* Puts item back at the head (a consumer that could not handle it yet);
 * never blocks, may exceed cap. Returns false, the item not taken, only
 * when out of memory: the caller still owns it. */
bool core_queue_push_front(core_queue *q, void *item, size_t weight);

/* Takes the oldest item, waiting up to timeout_ms (< 0: forever) for one.
 * Returns NULL on timeout, or when the queue is closed and empty. *weight
 * (may be NULL) gets the item's weight. */
void *core_queue_pop(core_queue *q, int64_t timeout_ms, size_t *weight);

/* Wakes every waiter; pushes are refused from then on, pops drain what is
 * left and then return NULL at once. */
void core_queue_close(core_queue *q);

/* Wakes a consumer waiting in pop (it returns NULL as on a timeout). */
void core_queue_wake(core_queue *q);

size_t core_queue_weight(core_queue *q); /* weight queued now */
size_t core_queue_len(core_queue *q);    /* items queued now */

#endif
