#include "cmd/cmd.h"
int cmd_save(int argc, char **argv)
{
	return 1;
}
