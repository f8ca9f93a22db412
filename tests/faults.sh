#!/bin/sh
. "$top_srcdir/tests/lib.sh"
check "placeholder" true
finish
