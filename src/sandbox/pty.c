/*
 * The user's side of `-t`: raw mode on kiln's terminal while the command
 * owns the pty, and the window size copied to the pty (at start and on
 * SIGWINCH).  The pty itself is allocated inside the container (native.c).
 */
#include "sandbox/sandbox-internal.h"

#include <sys/ioctl.h>
#include <termios.h>

#include "base/banned.h"

_Static_assert(sizeof(struct termios) <= 256, "termios buffer too small");

int sandbox_term_raw(int fd, void *saved)
{
	struct termios t;
	if (tcgetattr(fd, &t) < 0)
		return -1;
	memcpy(saved, &t, sizeof(t));
	cfmakeraw(&t);
	/* Keep output post-processing off too: the pty already did it. */
	return tcsetattr(fd, TCSADRAIN, &t);
}

void sandbox_term_restore(int fd, const void *saved)
{
	struct termios t;
	memcpy(&t, saved, sizeof(t));
	tcsetattr(fd, TCSADRAIN, &t);
}

void sandbox_pty_copy_winsize(int from, int to)
{
	struct winsize ws;
	if (ioctl(from, TIOCGWINSZ, &ws) == 0 && (ws.ws_row || ws.ws_col))
		ioctl(to, TIOCSWINSZ, &ws);
}
