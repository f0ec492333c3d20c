/*
 * peertime: the peer dom0's stopwatch (runs inside the Linux dom0).
 *
 *   peertime first-line LOG TIMEOUT_S -- CMD ARG...
 *       Runs CMD and prints the milliseconds from just before it starts
 *       until LOG (xenconsoled's log of the guest's console) holds a
 *       complete line. LOG is removed first. Exit 1 on timeout or if CMD
 *       fails.
 *   peertime run -- CMD ARG...
 *       Runs CMD and prints how many milliseconds it took.
 *
 * A shell loop with `date` would fork per poll and compete with xl for
 * dom0's single vCPU; inotify wakes this process only when the log is
 * written, so the first line is seen when it lands.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static pid_t spawn(char **argv)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* Our stdout carries only the figure. */
		dup2(2, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "peertime: error: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static int has_line(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0 && memchr(buf, '\n', (size_t)n) != NULL;
}

static int child_failed(int status)
{
	return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

static int first_line(const char *log, double timeout_s, char **argv)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", log);
	int in = inotify_init1(IN_NONBLOCK);
	if (in < 0 || inotify_add_watch(in, dirname(dir), IN_CREATE | IN_MODIFY) < 0) {
		fprintf(stderr, "peertime: error: cannot watch %s: %s\n", log, strerror(errno));
		return 1;
	}
	unlink(log);
	double start = now_ms();
	pid_t pid = spawn(argv);
	if (pid < 0)
		return 1;
	int running = 1, status = 0;
	double deadline = start + timeout_s * 1e3;
	while (!has_line(log)) {
		if (running && waitpid(pid, &status, WNOHANG) == pid) {
			running = 0;
			if (child_failed(status)) {
				fprintf(stderr, "peertime: error: %s failed\n", argv[0]);
				return 1;
			}
		}
		double left = deadline - now_ms();
		if (left <= 0) {
			fprintf(stderr, "peertime: error: no line in %s within %.0f s\n", log,
				timeout_s);
			return 1;
		}
		/* Wake on the log's events; at most 20 ms to notice CMD's exit. */
		struct pollfd p = {.fd = in, .events = POLLIN};
		if (poll(&p, 1, left < 20 ? (int)left + 1 : 20) > 0) {
			char ev[4096];
			while (read(in, ev, sizeof(ev)) > 0) {
			}
		}
	}
	printf("%.3f\n", now_ms() - start);
	fflush(stdout);
	if (running && (waitpid(pid, &status, 0) != pid || child_failed(status))) {
		fprintf(stderr, "peertime: error: %s failed\n", argv[0]);
		return 1;
	}
	return 0;
}

static int run(char **argv)
{
	double start = now_ms();
	pid_t pid = spawn(argv);
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || child_failed(status)) {
		fprintf(stderr, "peertime: error: %s failed\n", argv[0]);
		return 1;
	}
	printf("%.3f\n", now_ms() - start);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "first-line") == 0 && strcmp(argv[4], "--") == 0)
		return first_line(argv[2], atof(argv[3]), argv + 5);
	if (argc >= 4 && strcmp(argv[1], "run") == 0 && strcmp(argv[2], "--") == 0)
		return run(argv + 3);
	fprintf(stderr,
		"usage: peertime first-line LOG TIMEOUT_S -- CMD ARG... | run -- CMD ARG...\n");
	return 2;
}
