"""The dashboard's screens: the list, one rollout's detail, and the modal dialogs."""
