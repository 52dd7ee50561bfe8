"""Names of the system attributes that several parts of tunesmith read and write."""

#: A trial's constraint values (a list of floats; feasible when every value is <= 0).
CONSTRAINTS_KEY = "constraints"
#: The parameters an enqueued trial brings (name -> external value).
FIXED_PARAMS_KEY = "fixed_params"
#: Why a trial failed (a message).
FAIL_REASON_KEY = "fail_reason"
