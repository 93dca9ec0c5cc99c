// gen_ketama.c writes ketama golden vectors computed by the real libmemcached
// (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED). No server needs to run: the mapping is
// computed by memcached_generate_hash from the configured server list.
//
// Regenerate (from hashring/testdata):
//
//	gcc -O2 -Wall -o /tmp/gen_ketama gen_ketama.c -lmemcached
//	/tmp/gen_ketama | gzip -9n > ketama_golden.txt.gz
//
// Output, one record per line:
//
//	V <libmemcached version>
//	K <key as lower-case hex>                   (all keys, in order; "-" is the empty key)
//	C <family> <n>                              (a configuration of n servers)
//	S <host> <port> <weight>                    (n lines, in the order given to libmemcached)
//	M <2 hex digits per key>                    (index of the server each key maps to)
#include <libmemcached/memcached.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

// splitmix64: a tiny deterministic generator so the vectors are reproducible.
static uint64_t next_rand(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

#define MAX_KEYS 1400
#define MAX_KEY_LEN 4096

static char *keys[MAX_KEYS];
static size_t key_lens[MAX_KEYS];
static int nkeys;

static void add_key(const char *k, size_t len) {
  if (nkeys >= MAX_KEYS) {
    fprintf(stderr, "too many keys\n");
    exit(1);
  }
  keys[nkeys] = malloc(len + 1);
  memcpy(keys[nkeys], k, len);
  key_lens[nkeys] = len;
  nkeys++;
}

static void add_cstr(const char *k) { add_key(k, strlen(k)); }

static void make_keys(void) {
  static char buf[MAX_KEY_LEN];
  // Odd keys first.
  add_key("", 0);
  add_key("\0", 1);
  add_key("\0\0\0\0", 4);
  add_key("a\0b", 3);
  add_cstr("\r\n");
  add_cstr("key\r\nwith\nnewlines");
  add_cstr("key with spaces");
  add_cstr("\t");
  add_cstr("\xff\xfe\xfd");             // invalid UTF-8
  add_cstr("\xc3\x28");                 // invalid 2-byte sequence
  add_cstr("\xed\xa0\x80");             // UTF-16 surrogate encoded in UTF-8
  add_cstr("ключ");                     // Cyrillic
  add_cstr("日本語のキー");               // Japanese
  add_cstr("emoji-\xf0\x9f\x99\x82");   // U+1F642
  add_cstr("e\xcc\x81");                // combining accent
  for (size_t len = 249; len <= 252; len++) {
    memset(buf, 'x', len);
    add_key(buf, len);
  }
  for (size_t i = 0; i < 300; i++) buf[i] = (char) (next_rand() & 0xff);
  add_key(buf, 300);
  memset(buf, 'a', 4096);
  add_key(buf, 4096);
  for (size_t i = 0; i < 4096; i++) buf[i] = (char) (next_rand() & 0xff);
  add_key(buf, 4096);
  for (int b = 0; b < 256; b += 17) {
    buf[0] = (char) b;
    add_key(buf, 1);
  }
  // Ordinary keys.
  for (int i = 0; i < 400; i++) {
    int len = snprintf(buf, sizeof(buf), "key:%d", i);
    add_key(buf, (size_t) len);
  }
  for (int i = 0; i < 200; i++) {
    int len = snprintf(buf, sizeof(buf), "user:%llu:profile",
                       (unsigned long long) (next_rand() % 100000000));
    add_key(buf, (size_t) len);
  }
  // 16-byte printable keys, as in the benchmarks.
  for (int i = 0; i < 200; i++) {
    for (int j = 0; j < 16; j++) buf[j] = (char) ('a' + next_rand() % 26);
    add_key(buf, 16);
  }
  // Random binary keys of random length 1..64.
  for (int i = 0; i < 200; i++) {
    size_t len = 1 + next_rand() % 64;
    for (size_t j = 0; j < len; j++) buf[j] = (char) (next_rand() & 0xff);
    add_key(buf, len);
  }
}

struct server {
  char host[128];
  unsigned port;
  unsigned weight;
};

static struct server servers[128];

static void shuffle(int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int) (next_rand() % (uint64_t) (i + 1));
    struct server t = servers[i];
    servers[i] = servers[j];
    servers[j] = t;
  }
}

static void emit(const char *family, int n) {
  memcached_st *memc = memcached_create(NULL);
  if (memc == NULL) {
    fprintf(stderr, "memcached_create failed\n");
    exit(1);
  }
  if (memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1) != MEMCACHED_SUCCESS) {
    fprintf(stderr, "behavior_set failed\n");
    exit(1);
  }
  printf("C %s %d\n", family, n);
  for (int i = 0; i < n; i++) {
    memcached_return_t rc = memcached_server_add_with_weight(memc, servers[i].host,
                                                             (in_port_t) servers[i].port,
                                                             servers[i].weight);
    if (rc != MEMCACHED_SUCCESS) {
      fprintf(stderr, "server_add %s: %s\n", servers[i].host, memcached_strerror(memc, rc));
      exit(1);
    }
    printf("S %s %u %u\n", servers[i].host, servers[i].port, servers[i].weight);
  }
  if (memcached_server_count(memc) != (uint32_t) n) {
    fprintf(stderr, "server count mismatch\n");
    exit(1);
  }
  fputs("M ", stdout);
  for (int k = 0; k < nkeys; k++) {
    uint32_t idx = memcached_generate_hash(memc, keys[k], key_lens[k]);
    if (idx >= (uint32_t) n) {
      fprintf(stderr, "bad index %u\n", idx);
      exit(1);
    }
    printf("%02x", idx);
  }
  putchar('\n');
  memcached_free(memc);
}

int main(void) {
  make_keys();
  printf("V %s\n", memcached_lib_version());
  for (int k = 0; k < nkeys; k++) {
    if (key_lens[k] == 0) {
      puts("K -");
      continue;
    }
    fputs("K ", stdout);
    for (size_t i = 0; i < key_lens[k]; i++) printf("%02x", (unsigned char) keys[k][i]);
    putchar('\n');
  }

  static const unsigned ports[] = {11211, 11212, 22122, 21201, 1, 65535, 11311};
  for (int n = 1; n <= 100; n++) {
    // Equal weights, default port, IPv4 addresses, natural order.
    for (int i = 0; i < n; i++) {
      snprintf(servers[i].host, sizeof servers[i].host, "10.0.%d.%d", i / 50, 1 + i % 50 * 5);
      servers[i].port = 11211;
      servers[i].weight = 1;
    }
    emit("ipv4-default", n);

    // One host, many ports (as on a test machine), weight 0 (= 1).
    for (int i = 0; i < n; i++) {
      snprintf(servers[i].host, sizeof servers[i].host, "127.0.0.1");
      servers[i].port = 11212 + (unsigned) i;
      servers[i].weight = 0;
    }
    emit("localhost-ports", n);

    // Host names, mixed ports, shuffled order.
    for (int i = 0; i < n; i++) {
      snprintf(servers[i].host, sizeof servers[i].host, "cache-%02d.dc%d.example.com", i, i % 3);
      servers[i].port = ports[next_rand() % 7];
      servers[i].weight = 1;
    }
    shuffle(n);
    emit("hostnames", n);

    // IPv6 literals (without brackets, as libmemcached stores them), mixed ports.
    for (int i = 0; i < n; i++) {
      if (i == 0) {
        snprintf(servers[i].host, sizeof servers[i].host, "::1");
      } else {
        snprintf(servers[i].host, sizeof servers[i].host, "2001:db8::%x:%x", i * 7, i);
      }
      servers[i].port = (i % 2 == 0) ? 11211 : ports[next_rand() % 7];
      servers[i].weight = 1;
    }
    shuffle(n);
    emit("ipv6", n);

    // Small integer weights 1..5.
    for (int i = 0; i < n; i++) {
      snprintf(servers[i].host, sizeof servers[i].host, "192.168.%d.%d", i % 4, 10 + i);
      servers[i].port = 11211 + (unsigned) (i % 2);
      servers[i].weight = 1 + (unsigned) (next_rand() % 5);
    }
    shuffle(n);
    emit("small-weights", n);

    // Memory-sized weights 64..4096 (MiB of cache per server).
    for (int i = 0; i < n; i++) {
      snprintf(servers[i].host, sizeof servers[i].host, "mc%d.internal", i);
      servers[i].port = 11211;
      servers[i].weight = 64 + (unsigned) (next_rand() % (4096 - 64 + 1));
    }
    shuffle(n);
    emit("memory-weights", n);

    // Memory-sized round weights.
    for (int i = 0; i < n; i++) {
      static const unsigned sizes[] = {64, 128, 256, 512, 1024, 2048, 4096};
      snprintf(servers[i].host, sizeof servers[i].host, "10.1.%d.%d", i % 7, i);
      servers[i].port = 11211;
      servers[i].weight = sizes[next_rand() % 7];
    }
    shuffle(n);
    emit("memory-round-weights", n);

    // Zero weights (= 1) mixed with small weights.
    for (int i = 0; i < n; i++) {
      snprintf(servers[i].host, sizeof servers[i].host, "10.2.0.%d", i);
      servers[i].port = 11211 + (unsigned) (i % 3);
      servers[i].weight = (unsigned) (next_rand() % 3);
    }
    shuffle(n);
    emit("zero-weights", n);
  }
  return 0;
}
