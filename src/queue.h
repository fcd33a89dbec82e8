/* Intrusive circular doubly linked list (the libuv queue idea): nodes live
 * inside the structs they link, so queueing never allocates. L0: libc only. */
#ifndef ADL_QUEUE_H
#define ADL_QUEUE_H

#include <stddef.h>

typedef struct adl__queue_s {
  struct adl__queue_s *next;
  struct adl__queue_s *prev;
} adl__queue_t;

#define ADL_QUEUE_DATA(ptr, type, field)                                       \
  ((type *)((char *)(ptr) - offsetof(type, field)))

static inline void adl__queue_init(adl__queue_t *q) {
  q->next = q;
  q->prev = q;
}

static inline int adl__queue_empty(const adl__queue_t *q) {
  return q->next == q;
}

static inline adl__queue_t *adl__queue_head(const adl__queue_t *q) {
  return q->next;
}

static inline void adl__queue_insert_tail(adl__queue_t *h, adl__queue_t *q) {
  q->next = h;
  q->prev = h->prev;
  q->prev->next = q;
  h->prev = q;
}

/* Inserts q right before pos (pos may be the head: then it is the tail). */
static inline void adl__queue_insert_before(adl__queue_t *pos,
                                            adl__queue_t *q) {
  adl__queue_insert_tail(pos, q);
}

/* Unlinks q and leaves it self-linked, so removing twice is harmless. */
static inline void adl__queue_remove(adl__queue_t *q) {
  q->prev->next = q->next;
  q->next->prev = q->prev;
  adl__queue_init(q);
}

#define ADL_QUEUE_FOREACH(q, h) for ((q) = (h)->next; (q) != (h); (q) = (q)->next)

#endif /* ADL_QUEUE_H */
