#include "cmd/cmd.h"
int cmd_load(int argc, char **argv)
{
	return 1;
}
