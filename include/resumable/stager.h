#ifndef RESUMABLE_STAGER_H
#define RESUMABLE_STAGER_H

/* The client stager (libcurl): filled in by the stager work. */

#endif
