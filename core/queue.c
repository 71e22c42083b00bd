/* The bounded FIFO: a linked list under one mutex, two condition
 * variables (room, items). */
#include "core/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct node {
    void *item;
    size_t weight;
    struct node *next;
} node;

struct core_queue {
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_get;
    node *head, *tail;
    size_t weight, len, cap;
    bool closed, woken;
};

core_queue *core_queue_new(size_t cap)
{
    core_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->cap = cap ? cap : 1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->can_put, &ca);
    pthread_cond_init(&q->can_get, &ca);
    pthread_condattr_destroy(&ca);
    return q;
}

void core_queue_free(core_queue *q, void (*free_item)(void *item))
{
    if (!q)
        return;
    for (node *n = q->head, *next; n; n = next) {
        next = n->next;
        if (free_item)
            free_item(n->item);
        free(n);
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->can_put);
    pthread_cond_destroy(&q->can_get);
    free(q);
}

static bool has_room(const core_queue *q, size_t weight)
{
    return q->weight == 0 || q->weight + weight <= q->cap;
}

core_queue_status core_queue_push(core_queue *q, void *item, size_t weight,
                                  core_queue_policy policy, bool *waited)
{
    if (waited)
        *waited = false;
    node *n = malloc(sizeof *n);
    if (!n)
        return CORE_QUEUE_FULL;
    *n = (node){item, weight, NULL};
    pthread_mutex_lock(&q->mu);
    if (!q->closed && !has_room(q, weight)) {
        if (policy == CORE_QUEUE_DROP) {
            pthread_mutex_unlock(&q->mu);
            free(n);
            return CORE_QUEUE_FULL;
        }
        if (waited)
            *waited = true;
        while (!q->closed && !has_room(q, weight))
            pthread_cond_wait(&q->can_put, &q->mu);
    }
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        free(n);
        return CORE_QUEUE_CLOSED;
    }
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->weight += weight;
    q->len++;
    pthread_cond_signal(&q->can_get);
    pthread_mutex_unlock(&q->mu);
    return CORE_QUEUE_OK;
}

bool core_queue_push_front(core_queue *q, void *item, size_t weight)
{
    node *n = malloc(sizeof *n);
    if (!n)
        return false;
    *n = (node){item, weight, NULL};
    pthread_mutex_lock(&q->mu);
    n->next = q->head;
    q->head = n;
    if (!q->tail)
        q->tail = n;
    q->weight += weight;
    q->len++;
    pthread_cond_signal(&q->can_get);
    pthread_mutex_unlock(&q->mu);
    return true;
}

void *core_queue_pop(core_queue *q, int64_t timeout_ms, size_t *weight)
{
    struct timespec until;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->closed && !q->woken) {
        if (timeout_ms < 0)
            pthread_cond_wait(&q->can_get, &q->mu);
        else if (pthread_cond_timedwait(&q->can_get, &q->mu, &until) == ETIMEDOUT)
            break;
    }
    q->woken = false;
    node *n = q->head;
    void *item = NULL;
    if (n) {
        q->head = n->next;
        if (!q->head)
            q->tail = NULL;
        q->weight -= n->weight;
        q->len--;
        item = n->item;
        if (weight)
            *weight = n->weight;
        pthread_cond_broadcast(&q->can_put);
    }
    pthread_mutex_unlock(&q->mu);
    free(n);
    return item;
}

void core_queue_close(core_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->can_get);
    pthread_cond_broadcast(&q->can_put);
    pthread_mutex_unlock(&q->mu);
}

void core_queue_wake(core_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->woken = true;
    pthread_cond_broadcast(&q->can_get);
    pthread_mutex_unlock(&q->mu);
}

size_t core_queue_weight(core_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t w = q->weight;
    pthread_mutex_unlock(&q->mu);
    return w;
}

size_t core_queue_len(core_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}
