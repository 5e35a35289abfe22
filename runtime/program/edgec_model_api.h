/* edgec_model_api.h - the generated core's API (its model.h) under the generic edgec_ names, which the
 * program (CLI, server) is written against once for every model: model.h maps each edgec_ name onto
 * the model's prefixed one when EDGEC_GENERIC_NAMES is defined.  Program files include this, never
 * model.h directly, so the mapping is always on. */
#ifndef EDGEC_MODEL_API_H
#define EDGEC_MODEL_API_H

#define EDGEC_GENERIC_NAMES 1
#include "model.h"

#endif
