/* The machine's floor for fan-out: CPU per send() of one pre-built ~300-byte frame.
 *
 * The issue orients every fan-out figure by this (5.2 us per frame on its
 * machine): a C loop doing nothing but send() to N loopback TCP connections,
 * with another process draining them. On loopback the receiving side's kernel
 * work runs inside the sender's syscall, so this is the least any server here
 * can spend per delivered frame. bench/floor.py builds and runs it.
 *
 * Usage: floor N ROUNDS. Prints one JSON object with the CPU microseconds per
 * send of every round (the sender's user + system time, getrusage).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static void fail(const char *what) {
    perror(what);
    exit(1);
}

/* The viewers: N connections, read and discarded as fast as they arrive. */
static void drain(struct sockaddr_in *addr, int n) {
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)addr, sizeof *addr) < 0) fail("viewer connect");
        struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    }
    struct epoll_event ready[1024];
    static char buf[65536];
    for (;;) {
        int k = epoll_wait(ep, ready, 1024, -1);
        for (int j = 0; j < k; j++)
            if (read(ready[j].data.fd, buf, sizeof buf) <= 0) close(ready[j].data.fd);
    }
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10000, rounds = argc > 2 ? atoi(argv[2]) : 10, one = 1;
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, len) < 0 || listen(listener, 4096) < 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) < 0)
        fail("listen");
    pid_t viewers = fork();
    if (viewers == 0) drain(&addr, n);
    int *fds = malloc(n * sizeof *fds);
    for (int i = 0; i < n; i++) {
        if ((fds[i] = accept(listener, NULL, NULL)) < 0) fail("accept");
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }

    /* A text frame of 300 bytes: the size of an answer event, as in the issue. */
    char frame[300];
    memset(frame, 'x', sizeof frame);
    frame[0] = (char)0x81, frame[1] = 126, frame[2] = 0x01, frame[3] = 0x28;
    usleep(200000);
    printf("{\"n\": %d, \"us_per_send\": [", n);
    for (int r = 0; r < rounds; r++) {
        double before = cpu_seconds();
        for (int i = 0; i < n; i++)
            if (send(fds[i], frame, sizeof frame, 0) != (ssize_t)sizeof frame) fail("send");
        printf("%s%.3f", r ? ", " : "", (cpu_seconds() - before) / n * 1e6);
        usleep(100000); /* the viewers read it all before the next round */
    }
    printf("]}\n");
    kill(viewers, SIGKILL);
    waitpid(viewers, NULL, 0);
    return 0;
}
