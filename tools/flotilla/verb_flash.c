/*
 * verb_flash.c: flotilla flash IMAGE DEVICE — write an SD image to a block
 * device or a file, read it back and compare, optionally provisioning the
 * board (device.cfg on the boot partition, guests/control/devcfg.h).
 *
 * Safety first: a device that is mounted, that holds the host's root file
 * system, or that is smaller than the image is refused before a byte is
 * written, each with its own message; the user confirms unless --yes.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "devcfg.h"
#include "keys.h"
#include "ota.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char usage_flash[] =
    "usage: flotilla flash IMAGE DEVICE [--yes] [--json] [provisioning options]\n"
    "\n"
    "Writes IMAGE (build/sdcard.img) to DEVICE (a block device such as /dev/sdX,\n"
    "or a file), with a progress bar, then reads it back and compares SHA-256.\n"
    "Refuses a device that is mounted, that holds this host's root file system,\n"
    "or that is smaller than the image. Asks before writing unless --yes.\n"
    "\n"
    "Provisioning (no rebuild): writes device.cfg to the image's boot partition,\n"
    "which the control domain validates and reads at boot:\n"
    "  --hostname NAME          the board's name (a-z 0-9 -)\n"
    "  --static-ip ADDR/PREFIX  the control domain's address (default: DHCP)\n"
    "  --gateway ADDR, --dns ADDR   with --static-ip\n"
    "  --trust KEY.pub          also trust this fleet signing key (repeatable)\n"
    "  --operator KEY.pub       also accept device API requests signed by this\n"
    "                           operator key (repeatable; not a signing key)\n"
    "\n"
    "  --json                   one JSON object on stdout, no progress bar\n";

#define CHUNK (1u << 20)

struct flash_job {
	const char *image, *device;
	bool yes, json, block_device;
	uint64_t image_size, device_size;
	char config[4096];
	size_t config_len;
	struct devcfg cfg;
	double write_s, verify_s;
	uint8_t digest[OTA_SHA256_SIZE];
};

/* ---------------------------------------------------------------- safety */

/* "/sys/dev/block/MAJ:MIN" resolved: the kernel's name for a block device. */
static int sysfs_path(dev_t dev, char *out, size_t size)
{
	char link[64];
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	return realpath(link, out) && strlen(out) < size ? 0 : -1;
}

/*
 * Does the block device whose sysfs directory is disk_sys hold dev: the same
 * device, one of its partitions, or (device-mapper, md, LVM) a device built
 * on either, found through sysfs "slaves" links?
 */
static bool holds(const char *disk_sys, const char *dev_sys, int depth)
{
	size_t n = strlen(disk_sys);
	if (strcmp(dev_sys, disk_sys) == 0 ||
	    (strncmp(dev_sys, disk_sys, n) == 0 && dev_sys[n] == '/'))
		return true;
	if (depth > 8)
		return false;
	char slaves[PATH_MAX + 16];
	snprintf(slaves, sizeof(slaves), "%s/slaves", dev_sys);
	DIR *dir = opendir(slaves);
	if (!dir)
		return false;
	bool found = false;
	struct dirent *e;
	while (!found && (e = readdir(dir)) != NULL) {
		char link[PATH_MAX + 300], target[PATH_MAX];
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", slaves, e->d_name);
		if (realpath(link, target))
			found = holds(disk_sys, target, depth + 1);
	}
	closedir(dir);
	return found;
}

/* Undo the octal escapes of /proc/self/mountinfo ("\040" for a space). */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * Refuses a block device that holds the root file system or any mounted
 * one. Returns 0, or CLI_EXIT_FAIL with the message printed.
 */
static int check_not_in_use(const struct flash_job *job, dev_t rdev)
{
	char disk_sys[PATH_MAX];
	if (sysfs_path(rdev, disk_sys, sizeof(disk_sys)) != 0)
		return cli_error("%s: not a block device the kernel lists in /sys/dev/block",
				 job->device);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return cli_error("cannot read /proc/self/mountinfo to check that %s is not in use",
				 job->device);
	char line[4096], root_hit[PATH_MAX] = "", mount_hit[PATH_MAX] = "";
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		char mount_point[PATH_MAX];
		/* id parent MAJ:MIN root mount-point ... */
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mount_point) != 3)
			continue;
		unescape(mount_point);
		char dev_sys[PATH_MAX];
		if (sysfs_path(makedev(maj, min), dev_sys, sizeof(dev_sys)) != 0 ||
		    !holds(disk_sys, dev_sys, 0))
			continue;
		if (strcmp(mount_point, "/") == 0)
			snprintf(root_hit, sizeof(root_hit), "%s", mount_point);
		else if (!mount_hit[0])
			snprintf(mount_hit, sizeof(mount_hit), "%s", mount_point);
	}
	fclose(f);
	if (root_hit[0])
		return cli_error("refusing %s: it holds this host's root file system", job->device);
	if (mount_hit[0])
		return cli_error("refusing %s: it is mounted (on %s); unmount it first",
				 job->device, mount_hit);
	return 0;
}

static int check_target(struct flash_job *job)
{
	struct stat image, target;
	if (stat(job->image, &image) != 0)
		return cli_error("%s: %s", job->image, strerror(errno));
	if (!S_ISREG(image.st_mode) || image.st_size < 512)
		return cli_error("%s: not an SD image file", job->image);
	job->image_size = (uint64_t)image.st_size;
	if (stat(job->device, &target) != 0) {
		if (errno == ENOENT)
			return 0; /* a new file */
		return cli_error("%s: %s", job->device, strerror(errno));
	}
	if (target.st_dev == image.st_dev && target.st_ino == image.st_ino)
		return cli_error("refusing %s: it is the image itself", job->device);
	if (S_ISREG(target.st_mode))
		return 0;
	if (!S_ISBLK(target.st_mode))
		return cli_error("refusing %s: neither a block device nor a regular file",
				 job->device);
	job->block_device = true;
	int rc = check_not_in_use(job, target.st_rdev);
	if (rc)
		return rc;
	int fd = open(job->device, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_error("%s: %s", job->device, strerror(errno));
	uint64_t size = 0;
	rc = ioctl(fd, BLKGETSIZE64, &size);
	close(fd);
	if (rc != 0)
		return cli_error("%s: cannot read its size: %s", job->device, strerror(errno));
	job->device_size = size;
	if (size < job->image_size)
		return cli_error("refusing %s: it holds %llu bytes, the image needs %llu",
				 job->device, (unsigned long long)size,
				 (unsigned long long)job->image_size);
	return 0;
}

/* ---------------------------------------------------------------- provisioning */

static int add_config(struct flash_job *job, const char *fmt, const char *value)
{
	size_t room = sizeof(job->config) - job->config_len;
	int n = snprintf(job->config + job->config_len, room, fmt, value);
	if (n < 0 || (size_t)n >= room)
		return cli_error("device configuration too long");
	job->config_len += (size_t)n;
	return 0;
}

/* The boot partition (MBR entry 1, FAT) of the image: byte offset. */
static int boot_partition_offset(const char *image, uint64_t *offset)
{
	uint8_t mbr[512];
	int fd = open(image, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, mbr, sizeof(mbr), 0) != (ssize_t)sizeof(mbr)) {
		if (fd >= 0)
			close(fd);
		return cli_error("%s: cannot read its partition table", image);
	}
	close(fd);
	const uint8_t *e = mbr + 446;
	uint32_t lba =
	    (uint32_t)e[8] | (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 24;
	if (mbr[510] != 0x55 || mbr[511] != 0xaa || lba == 0 ||
	    (e[4] != 0x0b && e[4] != 0x0c && e[4] != 0x0e && e[4] != 0x06))
		return cli_error("%s: no FAT boot partition in its MBR: not a Flotilla SD image",
				 image);
	*offset = (uint64_t)lba * 512;
	return 0;
}

static int run(char *const argv[])
{
	pid_t pid;
	int status;
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Copies image to a temporary file and writes device.cfg into its FAT. */
static int provision_copy(struct flash_job *job, char *tmp_image, size_t size)
{
	uint64_t offset = 0;
	int rc = boot_partition_offset(job->image, &offset);
	if (rc)
		return rc;
	const char *tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char cfg_path[PATH_MAX + 8];
	snprintf(tmp_image, size, "%s/flotilla-flash-XXXXXX", tmpdir);
	int fd = mkstemp(tmp_image);
	if (fd < 0)
		return cli_error("cannot create a temporary file in %s: %s", tmpdir,
				 strerror(errno));
	int in = open(job->image, O_RDONLY | O_CLOEXEC);
	static uint8_t buf[CHUNK];
	ssize_t n = 0;
	while (in >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	if (in >= 0)
		close(in);
	close(fd);
	if (in < 0 || n < 0) {
		unlink(tmp_image);
		return cli_error("cannot copy %s to %s", job->image, tmp_image);
	}
	snprintf(cfg_path, sizeof(cfg_path), "%s.cfg", tmp_image);
	if (cli_write_file(cfg_path, job->config, job->config_len, 0644) != 0) {
		unlink(tmp_image);
		return CLI_EXIT_FAIL;
	}
	char target[PATH_MAX + 32];
	snprintf(target, sizeof(target), "%s@@%llu", tmp_image, (unsigned long long)offset);
	char *argv[] = {"mcopy", "-o", "-i", target, cfg_path, "::device.cfg", NULL};
	setenv("MTOOLS_SKIP_CHECK", "1", 1);
	rc = run(argv);
	unlink(cfg_path);
	if (rc != 0) {
		unlink(tmp_image);
		return cli_error("mcopy (Debian package mtools) could not write device.cfg into "
				 "the boot partition (exit %d)",
				 rc);
	}
	return 0;
}

/* ---------------------------------------------------------------- copy and verify */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(const struct flash_job *job, const char *what, uint64_t done, uint64_t total,
		     double started)
{
	if (job->json || !isatty(STDERR_FILENO))
		return;
	double elapsed = now_s() - started, rate = elapsed > 0 ? (double)done / elapsed : 0;
	int width = 30, filled = total ? (int)((double)done * width / (double)total) : width;
	double eta = rate > 0 ? (double)(total - done) / rate : 0;
	fprintf(stderr, "\r%-9s [%-*.*s%*s] %3d%% %6.1f/%.1f MiB %5.1f MB/s ETA %3.0fs", what,
		filled, filled, "##############################", width - filled, "",
		total ? (int)(done * 100 / total) : 100, (double)done / 1048576.0,
		(double)total / 1048576.0, rate / 1e6, eta);
	if (done == total)
		fputc('\n', stderr);
}

/* Copies source to the device, hashing what was written. */
static int write_image(struct flash_job *job, const char *source)
{
	static uint8_t buf[CHUNK];
	int in = open(source, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return cli_error("%s: %s", source, strerror(errno));
	int flags = job->block_device ? O_WRONLY | O_EXCL : O_WRONLY | O_CREAT | O_TRUNC;
	int out = open(job->device, flags | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return cli_error("cannot open %s for writing: %s", job->device, strerror(errno));
	}
	struct ota_sha256 sha;
	ota_sha256_init(&sha);
	double started = now_s();
	uint64_t done = 0;
	int rc = 0;
	while (done < job->image_size) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n <= 0) {
			rc = cli_error("%s: read failed at byte %llu", source,
				       (unsigned long long)done);
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w <= 0) {
				rc = cli_error("writing %s failed at byte %llu: %s", job->device,
					       (unsigned long long)(done + (uint64_t)off),
					       w < 0 ? strerror(errno) : "device full");
				break;
			}
			off += w;
		}
		if (rc)
			break;
		ota_sha256_update(&sha, buf, (size_t)n);
		done += (uint64_t)n;
		progress(job, "writing", done, job->image_size, started);
	}
	close(in);
	/* Durable before it is called written: the card may be pulled next. */
	if (!rc && fsync(out) != 0)
		rc = cli_error("flushing %s failed: %s", job->device, strerror(errno));
	if (!rc && job->block_device)
		(void)ioctl(out, BLKFLSBUF, 0); /* read back from the medium, not the cache */
	else if (!rc)
		(void)posix_fadvise(out, 0, 0, POSIX_FADV_DONTNEED);
	close(out);
	ota_sha256_final(&sha, job->digest);
	job->write_s = now_s() - started;
	return rc;
}

static int verify_image(struct flash_job *job)
{
	static uint8_t buf[CHUNK];
	int fd = open(job->device, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_error("cannot reopen %s to verify: %s", job->device, strerror(errno));
	struct ota_sha256 sha;
	uint8_t digest[OTA_SHA256_SIZE];
	ota_sha256_init(&sha);
	double started = now_s();
	uint64_t done = 0;
	while (done < job->image_size) {
		size_t want =
		    job->image_size - done < CHUNK ? (size_t)(job->image_size - done) : CHUNK;
		ssize_t n = read(fd, buf, want);
		if (n <= 0) {
			close(fd);
			return cli_error("verify failed: %s ends at byte %llu", job->device,
					 (unsigned long long)done);
		}
		ota_sha256_update(&sha, buf, (size_t)n);
		done += (uint64_t)n;
		progress(job, "verifying", done, job->image_size, started);
	}
	close(fd);
	ota_sha256_final(&sha, digest);
	job->verify_s = now_s() - started;
	if (memcmp(digest, job->digest, sizeof(digest)) != 0)
		return cli_error("verify failed: what %s holds differs from what was written",
				 job->device);
	return 0;
}

static bool confirmed(const struct flash_job *job)
{
	char answer[16];
	fprintf(stderr, "Write %s (%.1f MiB) to %s? Everything on %s is lost. [y/N] ", job->image,
		(double)job->image_size / 1048576.0, job->device, job->device);
	fflush(stderr);
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	return strcmp(answer, "y\n") == 0 || strcmp(answer, "yes\n") == 0 ||
	       strcmp(answer, "Y\n") == 0;
}

static void print_result(const struct flash_job *job)
{
	char hex[2 * OTA_SHA256_SIZE + 1];
	cli_hex(hex, job->digest, sizeof(job->digest));
	double mb_s = job->write_s > 0 ? (double)job->image_size / job->write_s / 1e6 : 0;
	if (!job->json) {
		printf("flashed %s to %s: %llu bytes at %.1f MB/s, read back and verified (sha256 "
		       "%.16s...)\n",
		       job->image, job->device, (unsigned long long)job->image_size, mb_s, hex);
		if (job->config_len)
			printf(
			    "provisioned: hostname %s, address %s, %zu extra trusted key(s), %zu "
			    "operator key(s)\n",
			    job->cfg.hostname[0] ? job->cfg.hostname : "(default)",
			    job->cfg.static_ip ? "static" : "DHCP", job->cfg.key_count,
			    job->cfg.operator_count);
		return;
	}
	printf("{\"image\":");
	cli_json_string(job->image);
	printf(",\"device\":");
	cli_json_string(job->device);
	printf(",\"block_device\":%s,\"bytes\":%llu,\"sha256\":\"%s\",\"verified\":true,"
	       "\"write_seconds\":%.3f,\"verify_seconds\":%.3f,\"write_mb_s\":%.1f",
	       job->block_device ? "true" : "false", (unsigned long long)job->image_size, hex,
	       job->write_s, job->verify_s, mb_s);
	if (job->config_len) {
		printf(",\"device_config\":");
		char *copy = strndup(job->config, job->config_len);
		cli_json_string(copy ? copy : "");
		free(copy);
	}
	printf("}\n");
}

/* ---------------------------------------------------------------- the verb */

/* "KEY = <point hex>" for each public key file. */
static int add_keys(struct flash_job *job, const char *key, const char **files, size_t count)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < count; i++) {
		uint8_t point[OTA_P256_PUBKEY_SIZE];
		char hex[2 * OTA_P256_PUBKEY_SIZE + 1];
		if (keys_load_public_file(files[i], point) != 0)
			return CLI_EXIT_FAIL;
		cli_hex(hex, point, sizeof(point));
		rc = add_config(job, key, "") || add_config(job, " = %s\n", hex);
	}
	return rc;
}

static int parse_provisioning(struct flash_job *job, const char *hostname, const char *ip,
			      const char *gateway, const char *dns, const char **trust,
			      size_t trust_count, const char **operators, size_t operator_count)
{
	uint8_t addr[4];
	unsigned prefix;
	if (!hostname && !ip && !gateway && !dns && !trust_count && !operator_count)
		return 0;
	if (hostname && !devcfg_hostname_valid(hostname))
		return cli_usage_error("--hostname '%s': use 1-63 of a-z 0-9 and '-'", hostname);
	if (ip && devcfg_parse_cidr(ip, addr, &prefix) != 0)
		return cli_usage_error(
		    "--static-ip '%s': expected ADDRESS/PREFIX, e.g. 10.0.3.17/24", ip);
	if ((gateway || dns) && !ip)
		return cli_usage_error("--gateway and --dns need --static-ip");
	if (gateway && devcfg_parse_ipv4(gateway, addr) != 0)
		return cli_usage_error("--gateway '%s': expected an IPv4 address", gateway);
	if (dns && devcfg_parse_ipv4(dns, addr) != 0)
		return cli_usage_error("--dns '%s': expected an IPv4 address", dns);
	int rc = add_config(job, "%s",
			    "# Written by flotilla flash; read by the control domain.\n"
			    "flotilla-device-config 1\n");
	if (!rc && hostname)
		rc = add_config(job, "hostname = %s\n", hostname);
	if (!rc && ip)
		rc = add_config(job, "static-ip = %s\n", ip);
	if (!rc && gateway)
		rc = add_config(job, "gateway = %s\n", gateway);
	if (!rc && dns)
		rc = add_config(job, "dns = %s\n", dns);
	if (!rc)
		rc = add_keys(job, "trust", trust, trust_count);
	if (!rc)
		rc = add_keys(job, "operator", operators, operator_count);
	if (rc)
		return rc;
	/* What the board will parse, parsed here first. */
	char error[DEVCFG_ERROR_MAX];
	if (devcfg_parse(job->config, job->config_len, &job->cfg, error) != 0)
		return cli_error("device configuration refused: %s", error);
	return 0;
}

int verb_flash(int argc, char **argv)
{
	static struct flash_job job;
	const char *hostname = NULL, *ip = NULL, *gateway = NULL, *dns = NULL;
	const char *trust[DEVCFG_KEYS_MAX], *operators[DEVCFG_KEYS_MAX];
	size_t trust_count = 0, operator_count = 0;
	const char *positional[2];
	int npos = 0, rc;

	memset(&job, 0, sizeof(job));
	for (int i = 1; i < argc; i++) {
		const char *t = NULL, *op = NULL;
		int m;
		if (cli_is_help(argv[i])) {
			fputs(usage_flash, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0) {
			job.yes = true;
			continue;
		}
		if (strcmp(argv[i], "--json") == 0) {
			job.json = true;
			continue;
		}
		if ((m = cli_option(argc, argv, &i, "--hostname", &hostname)) ||
		    (m = cli_option(argc, argv, &i, "--static-ip", &ip)) ||
		    (m = cli_option(argc, argv, &i, "--gateway", &gateway)) ||
		    (m = cli_option(argc, argv, &i, "--dns", &dns)) ||
		    (m = cli_option(argc, argv, &i, "--trust", &t)) ||
		    (m = cli_option(argc, argv, &i, "--operator", &op))) {
			if (m < 0)
				return CLI_EXIT_USAGE;
			if (op) {
				if (operator_count == DEVCFG_KEYS_MAX)
					return cli_usage_error("at most %d --operator keys",
							       DEVCFG_KEYS_MAX);
				operators[operator_count++] = op;
			}
			if (t) {
				if (trust_count == DEVCFG_KEYS_MAX)
					return cli_usage_error("at most %d --trust keys",
							       DEVCFG_KEYS_MAX);
				trust[trust_count++] = t;
			}
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return cli_usage_error("unknown option '%s'", argv[i]);
		if (npos == 2)
			return cli_usage_error("unexpected argument '%s'", argv[i]);
		positional[npos++] = argv[i];
	}
	if (npos != 2)
		return cli_usage_error("expected IMAGE and DEVICE");
	job.image = positional[0];
	job.device = positional[1];

	if ((rc = parse_provisioning(&job, hostname, ip, gateway, dns, trust, trust_count,
				     operators, operator_count)) != 0)
		return rc;
	if ((rc = check_target(&job)) != 0)
		return rc;
	if (!job.yes && !confirmed(&job))
		return cli_error("not confirmed: nothing written (--yes skips the question)");

	char tmp_image[PATH_MAX] = "";
	const char *source = job.image;
	if (job.config_len) {
		if ((rc = provision_copy(&job, tmp_image, sizeof(tmp_image))) != 0)
			return rc;
		source = tmp_image;
	}
	rc = write_image(&job, source);
	if (tmp_image[0])
		unlink(tmp_image);
	if (!rc)
		rc = verify_image(&job);
	if (!rc)
		print_result(&job);
	return rc;
}
