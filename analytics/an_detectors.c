/* The detectors, in one list: the order in which each observation visits
 * them. Adding a detector is one file with its an_detector row and one line
 * here. */
#include "analytics/an_detectors.h"

const an_detector *const an_detectors[] = {
    &an_detector_probing, /* before extraction adds this prompt to the ring */
    &an_detector_extraction,
    &an_detector_leakage,
    &an_detector_flood,
    &an_detector_drift,
    &an_detector_rephrase,
};
const size_t an_detectors_count = sizeof an_detectors / sizeof an_detectors[0];
