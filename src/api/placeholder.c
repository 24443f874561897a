/* placeholder: remove when the first real file lands */
