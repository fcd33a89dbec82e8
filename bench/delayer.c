/* adl-delayer: emulate a round-trip time on a namespace's loopback when the
 * kernel has no sch_netem. An iptables rule sends every packet arriving on lo
 * (mangle PREROUTING, crossed once per direction) to NFQUEUE N; this program
 * holds each queued packet for --delay-us (RTT/2) and then accepts it, in
 * FIFO order. Raw nfnetlink over a netlink socket: no libnetfilter_queue.
 *
 *   adl-delayer --queue=N --delay-us=U [--maxlen=L]
 *
 * Prints "ready" on stdout once bound; on SIGTERM/SIGINT it accepts whatever
 * it still holds, prints statistics on stderr and exits 0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NLA_ALIGNTO_ 4u
#define NLA_ALIGN_(len) (((len) + NLA_ALIGNTO_ - 1) & ~(NLA_ALIGNTO_ - 1))

struct held {
  uint32_t id;
  uint64_t due_ns;
};

static struct {
  int fd;
  uint16_t queue;
  uint64_t delay_ns;
  struct held *ring;
  size_t cap, head, len;
  uint32_t seq;
  /* statistics, reported on exit */
  uint64_t packets, overflow, late_sum_ns, late_max_ns, late_1ms, verdicts;
} D;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Message builder: nlmsghdr + nfgenmsg + attributes, in one aligned buffer. */
struct msg {
  union {
    char buf[256];
    struct nlmsghdr align_;
  } u;
};

static struct nlmsghdr *msg_start(struct msg *m, uint8_t type, uint16_t flags) {
  memset(m, 0, sizeof *m);
  struct nlmsghdr *nh = (struct nlmsghdr *)m->u.buf;
  nh->nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
  nh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_QUEUE << 8) | type);
  nh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
  nh->nlmsg_seq = ++D.seq;
  struct nfgenmsg *g = NLMSG_DATA(nh);
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(D.queue);
  return nh;
}

static void msg_attr(struct nlmsghdr *nh, uint16_t type, const void *data,
                     uint16_t len) {
  struct nlattr *a = (struct nlattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
  a->nla_type = type;
  a->nla_len = (uint16_t)(sizeof *a + len);
  memcpy((char *)a + sizeof *a, data, len);
  nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + NLA_ALIGN_(a->nla_len);
}

static int msg_send(const struct nlmsghdr *nh) {
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  for (;;) {
    ssize_t n = sendto(D.fd, nh, nh->nlmsg_len, 0, (struct sockaddr *)&kernel,
                       sizeof kernel);
    if (n >= 0) return 0;
    if (errno != EINTR) return -1;
  }
}

/* Wait for the ACK of a config request; packets cannot arrive yet. */
static int wait_ack(uint32_t seq) {
  union {
    char buf[8192];
    struct nlmsghdr align_;
  } u;
  for (int tries = 0; tries < 100; tries++) {
    ssize_t n = recv(D.fd, u.buf, sizeof u.buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    for (struct nlmsghdr *nh = (struct nlmsghdr *)u.buf; NLMSG_OK(nh, (size_t)n);
         nh = NLMSG_NEXT(nh, n)) {
      if (nh->nlmsg_type == NLMSG_ERROR && nh->nlmsg_seq == seq) {
        const struct nlmsgerr *e = NLMSG_DATA(nh);
        if (e->error == 0) return 0;
        errno = -e->error;
        return -1;
      }
    }
  }
  errno = ETIMEDOUT;
  return -1;
}

static int configure(uint32_t maxlen) {
  struct msg m;
  struct nlmsghdr *nh = msg_start(&m, NFQNL_MSG_CONFIG, NLM_F_ACK);
  struct nfqnl_msg_config_cmd cmd = {.command = NFQNL_CFG_CMD_BIND};
  msg_attr(nh, NFQA_CFG_CMD, &cmd, sizeof cmd);
  if (msg_send(nh) < 0 || wait_ack(nh->nlmsg_seq) < 0) {
    perror("adl-delayer: bind queue");
    return -1;
  }
  nh = msg_start(&m, NFQNL_MSG_CONFIG, NLM_F_ACK);
  /* Metadata only: the verdict needs the packet id, never the payload. */
  struct nfqnl_msg_config_params params = {.copy_range = htonl(0),
                                           .copy_mode = NFQNL_COPY_META};
  msg_attr(nh, NFQA_CFG_PARAMS, &params, sizeof params);
  uint32_t ql = htonl(maxlen);
  msg_attr(nh, NFQA_CFG_QUEUE_MAXLEN, &ql, sizeof ql);
  /* GSO: queue loopback super-packets whole instead of segmenting them; all
   * segments of one would be released together anyway. */
  uint32_t flags = htonl(NFQA_CFG_F_GSO), mask = htonl(NFQA_CFG_F_GSO);
  msg_attr(nh, NFQA_CFG_FLAGS, &flags, sizeof flags);
  msg_attr(nh, NFQA_CFG_MASK, &mask, sizeof mask);
  if (msg_send(nh) < 0 || wait_ack(nh->nlmsg_seq) < 0) {
    perror("adl-delayer: configure queue");
    return -1;
  }
  return 0;
}

/* One batch verdict accepts every queued packet with id <= last: FIFO with a
 * constant hold means the due packets are always a prefix. */
static void accept_upto(uint32_t last) {
  struct msg m;
  struct nlmsghdr *nh = msg_start(&m, NFQNL_MSG_VERDICT_BATCH, 0);
  struct nfqnl_msg_verdict_hdr vh = {.verdict = htonl(NF_ACCEPT),
                                     .id = htonl(last)};
  msg_attr(nh, NFQA_VERDICT_HDR, &vh, sizeof vh);
  if (msg_send(nh) < 0) perror("adl-delayer: verdict");
  D.verdicts++;
}

static void release_due(uint64_t now, int all) {
  uint32_t last = 0;
  int any = 0;
  while (D.len > 0) {
    struct held *h = &D.ring[D.head];
    if (!all && h->due_ns > now) break;
    if (now > h->due_ns) {
      uint64_t late = now - h->due_ns;
      D.late_sum_ns += late;
      if (late > D.late_max_ns) D.late_max_ns = late;
      D.late_1ms += late > 1000000u;
    }
    last = h->id;
    any = 1;
    D.head = (D.head + 1) % D.cap;
    D.len--;
  }
  if (any) accept_upto(last);
}

static void on_packet(const struct nlmsghdr *nh, uint64_t now) {
  const char *p = (const char *)NLMSG_DATA(nh) + NLMSG_ALIGN(sizeof(struct nfgenmsg));
  const char *end = (const char *)nh + nh->nlmsg_len;
  while (p + sizeof(struct nlattr) <= end) {
    const struct nlattr *a = (const struct nlattr *)p;
    if (a->nla_len < sizeof *a || p + a->nla_len > end) break;
    if ((a->nla_type & NLA_TYPE_MASK) == NFQA_PACKET_HDR &&
        a->nla_len >= sizeof *a + sizeof(struct nfqnl_msg_packet_hdr)) {
      struct nfqnl_msg_packet_hdr ph;
      memcpy(&ph, p + sizeof *a, sizeof ph);
      uint32_t id = ntohl(ph.packet_id);
      D.packets++;
      if (D.len == D.cap) { /* cannot hold it: pass it on rather than lose it */
        D.overflow++;
        release_due(now, 1);
      }
      D.ring[(D.head + D.len) % D.cap] = (struct held){id, now + D.delay_ns};
      D.len++;
      return;
    }
    p += NLA_ALIGN_(a->nla_len);
  }
}

static void drain_socket(void) {
  static union {
    char buf[65536];
    struct nlmsghdr align_;
  } u;
  for (int i = 0; i < 4096; i++) { /* bounded: come back to release packets */
    ssize_t n = recv(D.fd, u.buf, sizeof u.buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        fprintf(stderr, "adl-delayer: socket overrun, packets dropped\n");
        continue;
      }
      return; /* EAGAIN */
    }
    uint64_t now = now_ns();
    for (struct nlmsghdr *nh = (struct nlmsghdr *)u.buf; NLMSG_OK(nh, (size_t)n);
         nh = NLMSG_NEXT(nh, n)) {
      if (nh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
        on_packet(nh, now);
      else if (nh->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(nh);
        if (e->error) fprintf(stderr, "adl-delayer: netlink: %s\n", strerror(-e->error));
      }
    }
  }
}

static int parse_u64(const char *arg, const char *name, uint64_t *out) {
  size_t n = strlen(name);
  if (strncmp(arg, name, n) != 0 || arg[n] != '=') return 0;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(arg + n + 1, &end, 10);
  if (errno || *end || end == arg + n + 1) {
    fprintf(stderr, "adl-delayer: bad value in %s\n", arg);
    exit(2);
  }
  *out = v;
  return 1;
}

int main(int argc, char **argv) {
  uint64_t queue = 0, delay_us = 0, maxlen = 65536;
  for (int i = 1; i < argc; i++) {
    if (!parse_u64(argv[i], "--queue", &queue) &&
        !parse_u64(argv[i], "--delay-us", &delay_us) &&
        !parse_u64(argv[i], "--maxlen", &maxlen)) {
      fprintf(stderr, "usage: adl-delayer --queue=N --delay-us=U [--maxlen=L]\n");
      return 2;
    }
  }
  if (queue > 65535 || maxlen < 1 || maxlen > (1u << 22) || delay_us > 10000000) {
    fprintf(stderr, "adl-delayer: value out of range\n");
    return 2;
  }
  D.queue = (uint16_t)queue;
  D.delay_ns = delay_us * 1000u;
  D.cap = (size_t)maxlen;
  D.ring = calloc(D.cap, sizeof *D.ring);
  if (!D.ring) return 1;
  /* Release times matter to the microsecond: no timer slack. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  sigset_t block, waitmask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &waitmask);
  sigdelset(&waitmask, SIGTERM);
  sigdelset(&waitmask, SIGINT);
  /* Keep an inherited SIG_IGN for SIGINT (a background job of a script):
   * a terminal's Ctrl-C must not lift the delay under running transfers;
   * the script ends the delayer with SIGTERM during its teardown. */
  struct sigaction sa = {.sa_handler = on_signal}, old_int;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, NULL, &old_int);
  if (old_int.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, NULL);

  D.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (D.fd < 0) {
    perror("adl-delayer: netlink socket");
    return 1;
  }
  int rcv = 32 << 20;
  if (setsockopt(D.fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0)
    setsockopt(D.fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(D.fd, (struct sockaddr *)&local, sizeof local) < 0) {
    perror("adl-delayer: bind");
    return 1;
  }
  if (configure((uint32_t)maxlen) < 0) return 1;
  printf("ready queue=%u delay_us=%llu\n", (unsigned)D.queue,
         (unsigned long long)delay_us);
  fflush(stdout);

  /* Timer wake-ups come late by tens of microseconds here (virtualised, idle
   * states): sleep until `early` before the due time, learned from observed
   * oversleep, then spin (still reading the socket) for the rest. */
  uint64_t early = 50000;
  struct pollfd pfd = {.fd = D.fd, .events = POLLIN};
  while (!stop_requested) {
    uint64_t now = now_ns();
    release_due(now, 0);
    if (D.len > 0 && D.ring[D.head].due_ns - now <= early) {
      drain_socket();
      continue;
    }
    struct timespec ts, *tsp = NULL;
    uint64_t wake_at = 0;
    if (D.len > 0) {
      wake_at = D.ring[D.head].due_ns - early;
      uint64_t wait = wake_at - now;
      ts.tv_sec = (time_t)(wait / 1000000000u);
      ts.tv_nsec = (long)(wait % 1000000000u);
      tsp = &ts;
    }
    int r = ppoll(&pfd, 1, tsp, &waitmask);
    if (r < 0 && errno != EINTR) {
      perror("adl-delayer: ppoll");
      break;
    }
    if (r == 0 && tsp) { /* timed out: adapt to the oversleep just seen */
      uint64_t over = now_ns() - wake_at, want = over + over / 2 + 5000;
      early = (early * 7 + (want > 300000 ? 300000 : want)) / 8;
    }
    if (r > 0) drain_socket();
  }
  release_due(now_ns(), 1);
  fprintf(stderr,
          "adl-delayer: packets=%llu verdicts=%llu overflow=%llu "
          "late_mean_us=%.1f late_max_us=%.1f late_over_1ms=%llu\n",
          (unsigned long long)D.packets, (unsigned long long)D.verdicts,
          (unsigned long long)D.overflow,
          D.packets ? (double)D.late_sum_ns / (double)D.packets / 1e3 : 0.0,
          (double)D.late_max_ns / 1e3, (unsigned long long)D.late_1ms);
  close(D.fd);
  free(D.ring);
  return 0;
}
