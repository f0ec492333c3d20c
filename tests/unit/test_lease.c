/*
 * flotilla.lease= boot arguments (guests/runtime/lib/lease.c): which NIC a
 * word names, what is accepted, what is refused with a reason. Prints TAP.
 */
#include <stdio.h>
#include <string.h>

#include "lease.h"

static int count, failed;

static void check(const char *what, int ok)
{
	count++;
	if (!ok)
		failed++;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
}

static int find(const char *args, unsigned index, const char *label, struct flotilla_lease *l)
{
	char why[96] = "";
	memset(l, 0, sizeof(*l));
	int r = lease_find(args, index, label, l, why, sizeof(why));
	if (r < 0 && (why[0] == '\0' || !strstr(why, "flotilla.lease=")))
		return -99; /* a refusal must say what was wrong */
	return r;
}

int main(void)
{
	struct flotilla_lease l;
	check("NIC by label: address, prefix and gateway",
	      find("ip=dhcp flotilla.lease=lan:10.0.2.29/24,10.0.2.2", 0, "lan", &l) == 1 &&
		  l.addr == 0x0a00021d && l.netmask == 0xffffff00 && l.gateway == 0x0a000202);
	check("NIC by runtime name (eth0) and by index (0)",
	      find("flotilla.lease=eth0:192.168.1.7/16", 0, NULL, &l) == 1 &&
		  l.addr == 0xc0a80107 && l.netmask == 0xffff0000 && l.gateway == 0 &&
		  find("flotilla.lease=0:192.168.1.7/32", 0, NULL, &l) == 1 &&
		  l.netmask == 0xffffffff);
	check("a word for another NIC is not this one's",
	      find("flotilla.lease=mgmt:10.1.0.5/24,10.1.0.1", 0, "lan", &l) == 0 &&
		  find("flotilla.lease=eth1:10.1.0.5/24", 0, "lan", &l) == 0 &&
		  find("flotilla.lease=eth10:10.1.0.5/24", 1, NULL, &l) == 0 &&
		  find("flotilla.lease=lan2:10.1.0.5/24", 0, "lan", &l) == 0);
	check("several NICs: each finds its own word",
	      find("flotilla.lease=lan:10.0.0.5/24,10.0.0.1 flotilla.lease=mgmt:10.9.0.5/24 x=1", 1,
		   "mgmt", &l) == 1 &&
		  l.addr == 0x0a090005 && l.gateway == 0);
	check("no word, an empty string, a NULL string: none", find("ip=dhcp", 0, "lan", &l) == 0 &&
								   find("", 0, "lan", &l) == 0 &&
								   find(NULL, 0, "lan", &l) == 0);
	check("a similar key is not the key",
	      find("xflotilla.lease=lan:10.0.0.5/24 flotilla.leases=lan:10.0.0.6/24", 0, "lan",
		   &l) == 0);
	static const char *const bad[] = {
	    "flotilla.lease=lan:10.0.0.5",          /* no prefix */
	    "flotilla.lease=lan:10.0.0.5/0",        /* prefix 0 */
	    "flotilla.lease=lan:10.0.0.5/33",       /* prefix 33 */
	    "flotilla.lease=lan:10.0.0.256/24",     /* octet > 255 */
	    "flotilla.lease=lan:10.0.0/24",         /* three octets */
	    "flotilla.lease=lan:10.0.0.5/24,",      /* empty gateway */
	    "flotilla.lease=lan:10.0.0.5/24,1.2.3", /* short gateway */
	    "flotilla.lease=lan:10.0.0.5/24x",      /* trailing junk */
	    "flotilla.lease=lan:0.0.0.0/24",        /* no address */
	    "flotilla.lease=lan:255.255.255.255/24",
	    "flotilla.lease=lan:224.0.0.1/24", /* multicast */
	    "flotilla.lease=lan:0010.0.0.5/24",
	    "flotilla.lease=lan:",
	};
	int refused = 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (find(bad[i], 0, "lan", &l) != -1) {
			printf("# accepted: %s\n", bad[i]);
			refused = 0;
		}
	check("malformed values are refused with a reason naming the word", refused);
	check(
	    "an overlong word is refused without overrunning the reason",
	    find(
		"flotilla.lease=lan:10.0.0.5/24,10.0.0.1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		0, "lan", &l) == -1);
	check("no label: only ethN and N name the NIC",
	      find("flotilla.lease=:10.0.0.5/24", 0, "", &l) == 0 &&
		  find("flotilla.lease=lan:10.0.0.5/24", 0, NULL, &l) == 0);
	printf("1..%d\n", count);
	return failed ? 1 : 0;
}
