/* libresumable: resumable HTTP file uploads. Include this one header. */
#ifndef RESUMABLE_H
#define RESUMABLE_H

#include "resumable/features.h"
#include "resumable/export.h"
#include "resumable/error.h"
#include "resumable/version.h"
#include "resumable/log.h"
#include "resumable/store.h"
#include "resumable/store_s3.h"
#include "resumable/server.h"
#if RESUMABLE_HAS_CLIENT
#include "resumable/stager.h"
#endif

#endif
